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
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
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

# Each (device, measurement) pair gets a small integer once; raw samples repeat that integer, not the two
# strings (211 -> ~90 bytes per sample on PostgreSQL, see docs/benchmarks.md). The view `samples` (0006)
# still answers with device_id and measurement, so readers of the history keep their SQL.
series = Table(
    "series",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(128), nullable=False),
    Column("measurement", String(64), nullable=False),
    UniqueConstraint("device_id", "measurement", name="uq_series_device_measurement"),
)

# Physical raw samples, keyed by (series_id, ts): the idempotency key. Range-partitioned by day on
# PostgreSQL (partitions `series_samples_pYYYYMMDD`); columns ordered so no padding is stored.
series_samples = Table(
    "series_samples",
    metadata,
    Column("series_id", Integer, primary_key=True, autoincrement=False),
    Column("quality", SmallInteger, nullable=False),
    Column("ts", BigInteger, primary_key=True, autoincrement=False),
    Column("value", Float, nullable=False),
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

# Min/max/sum/count/last of the valid samples of one series and minute, written by the rollup job
# (gridos.telemetry.rollups) once a minute is closed, recomputed from the raw rows: ingest never touches it.
rollups_1m = Table(
    "rollups_1m",
    metadata,
    Column("series_id", Integer, primary_key=True, autoincrement=False),
    Column("count", Integer, nullable=False),
    Column("bucket", BigInteger, primary_key=True, autoincrement=False),
    Column("min", Float, nullable=False),
    Column("max", Float, nullable=False),
    Column("sum", Float, nullable=False),
    Column("last", Float, nullable=False),
    Column("last_ts", BigInteger, nullable=False),
)

# The minutes ingest wrote into and the rollup job has not rolled up yet: one row per minute and batch,
# appended in the ingest transaction (no key, so concurrent writers never wait on each other). `received_at`
# is the batch's, which identifies its rows where a minute's raw samples are no longer all hot.
rollup_pending = Table(
    "rollup_pending",
    metadata,
    Column("bucket", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
)
