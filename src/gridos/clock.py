"""Time conversions shared by every package.

GridOS stores and compares time as integer microseconds since the Unix epoch (UTC): exact, and the same
on PostgreSQL and SQLite. This module is the one place that converts them to and from datetimes, dates
and ISO 8601 text.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

US = 1_000_000
MINUTE_US = 60 * US
DAY_US = 86_400 * US
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # built once: these run once per point of every query


def now_us() -> int:
    return time.time_ns() // 1000


def to_us(dt: datetime) -> int:
    """Exact integer microseconds (float timestamps would round)."""
    delta = dt - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def iso(us: int | None) -> str | None:
    """ISO 8601 with a `Z`, microseconds only when there are any (the alarm API's shape)."""
    if us is None:
        return None
    return datetime.fromtimestamp(us / US, UTC).isoformat().replace("+00:00", "Z")


def iso_fixed(us: int) -> str:
    """ISO 8601 with a `Z` and always six fractional digits (the live stream's shape); no datetime built."""
    seconds, micros = divmod(us, US)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


def day_start_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_US


def day_of_us(ts_us: int) -> date:
    return date(1970, 1, 1) + timedelta(days=ts_us // DAY_US)
