"""Test times relative to now: the suite must pass on any date (samples older than the retention window
are refused, and samples in the future too), so no test hard-codes a calendar date."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def past(
    *, days: float = 0, hours: float = 0, minutes: float = 0, align: timedelta = timedelta(hours=1)
) -> datetime:
    """A UTC time that long ago, floored to `align` (buckets and rollups are aligned to the epoch), so a
    test can place samples at exact offsets inside one bucket."""
    t = datetime.now(UTC) - timedelta(days=days, hours=hours, minutes=minutes)
    step = int(align.total_seconds())
    return datetime.fromtimestamp(int(t.timestamp()) // step * step, UTC)


def iso(t: datetime) -> str:
    """RFC 3339 with a `Z`, as a producer would send it."""
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
