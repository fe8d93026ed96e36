"""Table definitions (SQLAlchemy Core). The DDL itself lives in Alembic migrations.

Timestamps of the time series are integers: microseconds since the Unix epoch (UTC). That keeps
bucketing (`ts - ts % step`) identical on PostgreSQL and SQLite, and the PostgreSQL range partitions
are plain integer ranges, one per UTC day.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Float,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
)

metadata = MetaData()


class UtcDateTime(TypeDecorator[datetime]):
    """DateTime(timezone=True) that reads back as UTC-aware on every backend: SQLite stores no offset, and
    an API answer must not change shape (`Z` or nothing) with the database behind it."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is not None and dialect.name == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


devices = Table(
    "devices",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("site", String(64), nullable=False, index=True),
    Column("name", Text),
    Column("nominal_voltage", Float),
    Column("rated_current", Float),
    Column("nominal_frequency", Float),
    Column("rated_power", Float),
    Column("expected_interval_s", Float, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("upstream", JSON),  # list of device ids (topology); NULL in rows written before 0004
)

samples = Table(
    "samples",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("measurement", String(64), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("value", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
)

latest_samples = Table(
    "latest_samples",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("measurement", String(64), primary_key=True),
    Column("ts", BigInteger, nullable=False),
    Column("value", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
)

rollups_1m = Table(
    "rollups_1m",
    metadata,
    Column("device_id", String(128), primary_key=True),
    Column("measurement", String(64), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("last", Float, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
)
