"""Physical storage of the time series, one implementation per backend behind the same functions.

Raw samples are stored by integer series id (`series`: one row per device and measurement, ids handed
out once and cached here), keyed by (series_id, ts) in `series_samples`; the view `samples` joins the
names back for readers. Both paths keep three things consistent in one transaction: the raw samples
(idempotent on series, ts), the latest value per device and measurement, and a mark per minute written
into (`rollup_pending`), from which the rollup job (gridos.telemetry.rollups) writes the 1-minute rollups
once the minute is closed.

On PostgreSQL the job then compacts every closed minute it rolled up into `series_segments`: one row per
series and minute holding the minute's samples as arrays (gridos.telemetry.segments). Readers take
`points(...)`, the union of both, bounded by time so that only the day partitions in range are read; the
view `samples` is the same union, unbounded. A sample already in a segment is a duplicate: a batch that
reaches back to a compacted minute checks the segments after its insert (`_drop_compacted`).
"""

# SQL here is assembled from constants and catalog names of this code base, never input.
# ruff: noqa: S608

from __future__ import annotations

import struct
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gridos.clock import DAY_US, from_us, now_us, to_us
from gridos.db import locks
from gridos.db.tables import latest_samples, rollup_pending, rollups_1m, series, series_samples
from gridos.telemetry.pgwrite import (
    KEYED_COLUMNS,
    LATEST_UPSERT,
    OPEN_MINUTES_US,
    SMALL_BATCH,
    KeyedRow,
    named,
    newest_per_series,
    write_postgres,
    write_small,
)
from gridos.telemetry.rollups import pending_marks
from gridos.telemetry.samples import Sample

Row = Sample  # (device_id, measurement, ts_us, value, quality, received_at_us)
SeriesKey = tuple[str, str]


class SampleStore:
    """Writes and retention; one instance per engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._partitions: set[date] = set()
        self._partition_lock = threading.Lock()
        # SQLite has one writer; serialising in-process avoids busy-timeouts under concurrent batches.
        self.sqlite_write_lock = threading.Lock()
        # Series ids never change once handed out, so every process may cache them for its lifetime.
        self._ids: dict[SeriesKey, int] = {}
        self._names: dict[int, SeriesKey] = {}
        self._name_fields: dict[SeriesKey, bytes] = {}
        self._ids_lock = threading.Lock()

    # -- series ids -----------------------------------------------------------------------------
    def series_ids(self, keys: set[SeriesKey]) -> dict[SeriesKey, int]:
        """Ids of these series, registering the new ones (in a transaction of its own: a series row
        without samples is harmless, and another replica registering the same one just finds it)."""
        ids = self._ids
        # Sorted: two processes registering overlapping series in different (set) orders would each wait
        # on the other's uncommitted unique keys, and PostgreSQL would abort one as a deadlock.
        missing = sorted(k for k in keys if k not in ids)
        if missing:
            insert = pg_insert if self.postgres else sqlite_insert
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                values = [{"device_id": d, "measurement": m} for d, m in chunk]
                if self.postgres:
                    with self.engine.begin() as conn:
                        conn.execute(insert(series).values(values).on_conflict_do_nothing())
                else:
                    with self.sqlite_write_lock, self.engine.begin() as conn:
                        conn.execute(insert(series).values(values).on_conflict_do_nothing())
                self._load({d for d, _ in chunk})
        return {k: ids[k] for k in keys}

    def series_id(self, device_id: str, measurement: str) -> int | None:
        """The id of a series for reading, or None when it never had a sample (nothing is registered)."""
        key = (device_id, measurement)
        if key not in self._ids:
            self._load({device_id})
        return self._ids.get(key)

    def names(self, series_id: int) -> SeriesKey:
        if series_id not in self._names:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(series.c.device_id, series.c.measurement).where(series.c.id == series_id)
                ).one()
            self._remember(series_id, (row[0], row[1]))
        return self._names[series_id]

    def name_fields(self, key: SeriesKey) -> bytes:
        """The field count and the (device_id, measurement) fields of a binary COPY row of `gridos_stage`,
        made once per series."""
        fields = self._name_fields.get(key)
        if fields is None:
            d, m = (n.encode() for n in key)
            fields = self._name_fields[key] = struct.pack(f">hi{len(d)}si{len(m)}s", 6, len(d), d, len(m), m)
        return fields

    def _load(self, device_ids: set[str]) -> None:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(series.c.id, series.c.device_id, series.c.measurement).where(
                    series.c.device_id.in_(sorted(device_ids))
                )
            ).all()
        for sid, device_id, measurement in found:
            self._remember(sid, (device_id, measurement))

    def _remember(self, series_id: int, key: SeriesKey) -> None:
        with self._ids_lock:
            self._ids[key] = series_id
            self._names[series_id] = key

    # -- writes ---------------------------------------------------------------------------------
    def write(self, rows: Sequence[Row], within: Callable[[Connection], None] | None = None) -> int:
        """Commit rows; returns how many were new. Raises on any failure: nothing is half-written.
        PostgreSQL: `within` runs in the same transaction once the rows are written (the alarm check)."""
        if not rows:
            return 0
        ids = self.series_ids({(r[0], r[1]) for r in rows})
        keyed = [(ids[(r[0], r[1])], r[4], r[2], r[3], r[5]) for r in rows]
        if self.postgres:
            marks = pending_marks(rows)  # sorted (minute, received_at): the batch's days and first minute
            self.ensure_partitions({_EPOCH + timedelta(days=d) for d in {m // DAY_US for m, _ in marks}})
            with self.engine.begin() as conn:
                if len(keyed) <= SMALL_BATCH and marks[0][0] >= now_us() - OPEN_MINUTES_US:
                    stored = write_small(conn, keyed)
                else:
                    stored = write_postgres(conn, rows, keyed, marks, self.names, self.name_fields)
                if within is not None:
                    within(conn)
                return stored
        with self.sqlite_write_lock, self.engine.begin() as conn:
            return _write_generic(conn, keyed, self.names)

    # -- partitions and retention ---------------------------------------------------------------
    def ensure_partitions(self, days: set[date]) -> None:
        missing = days - self._partitions
        if not missing:
            return
        with self._partition_lock, self.engine.begin() as conn:
            # Two replicas creating the same partition would race on the catalog: serialise them.
            locks.xact_lock(conn, locks.PARTITIONS)
            # A day counts as existing once both of its partitions do (CREATE IF NOT EXISTS does the rest).
            existing = set(existing_partitions(conn)) & set(existing_partitions(conn, "series_segments"))
            for day in sorted(missing - existing):
                create_partitions(conn, day)
            self._partitions |= existing | missing

    def maintain(
        self, now: datetime, retention_days: int, rollup_retention_days: int, ahead_days: int
    ) -> dict:
        """Create partitions for the retention window plus `ahead_days`, drop what fell out of it."""
        today = now.astimezone(UTC).date()
        cutoff_day = today - timedelta(days=retention_days)
        dropped: list[str] = []
        if self.postgres:
            self.ensure_partitions(
                {cutoff_day + timedelta(days=i) for i in range(retention_days + ahead_days + 1)}
            )
            with self._partition_lock, self.engine.begin() as conn:
                locks.xact_lock(conn, locks.PARTITIONS)
                for day in existing_partitions(conn):
                    if day < cutoff_day:
                        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {partition_name(day)}")
                        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {segment_partition_name(day)}")
                        self._partitions.discard(day)
                        dropped.append(partition_name(day))
        else:
            with self.sqlite_write_lock, self.engine.begin() as conn:
                conn.execute(series_samples.delete().where(series_samples.c.ts < _day_start_us(cutoff_day)))
        rollup_cutoff = _day_start_us(today - timedelta(days=rollup_retention_days))
        with self.engine.begin() as conn:
            conn.execute(rollups_1m.delete().where(rollups_1m.c.bucket < rollup_cutoff))
        return {"dropped_partitions": dropped, "raw_cutoff": cutoff_day.isoformat()}

    def partitions(self) -> list[date]:
        if not self.postgres:
            return []
        with self.engine.connect() as conn:
            return sorted(existing_partitions(conn))


_EPOCH = date(1970, 1, 1)


def _day_start_us(day: date) -> int:
    return (day - date(1970, 1, 1)).days * DAY_US


PARTITION_PREFIX = "series_samples_p"


def partition_name(day: date) -> str:
    return f"{PARTITION_PREFIX}{day:%Y%m%d}"


def segment_partition_name(day: date) -> str:
    """The day's partition of `series_segments`: always created and dropped with the raw samples' one."""
    return f"series_segments_p{day:%Y%m%d}"


def create_partitions(conn: Connection, day: date) -> None:
    """The day's partitions of `series_samples` and `series_segments` (a segment's bucket is in its day)."""
    start = _day_start_us(day)
    bounds = f"FOR VALUES FROM ({start}) TO ({start + DAY_US})"
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {partition_name(day)} PARTITION OF series_samples {bounds}"
    )
    conn.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {segment_partition_name(day)} PARTITION OF series_segments {bounds}"
    )


def existing_partitions(conn: Connection, parent: str = "series_samples") -> list[date]:
    names = conn.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        f"JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = '{parent}'"
    ).scalars()
    days = []
    for name in names:
        try:
            days.append(datetime.strptime(name.removeprefix(f"{parent}_p"), "%Y%m%d").date())
        except ValueError:
            continue
    return days


def _write_generic(conn: Connection, keyed: Sequence[KeyedRow], names: Callable[[int], SeriesKey]) -> int:
    stored_keyed: list[Sequence[Any]] = []
    keys = KEYED_COLUMNS.split(", ")
    c = series_samples.c
    # SQLite caps bound parameters per statement; 500 rows x 5 columns stays well inside it.
    for start in range(0, len(keyed), 500):
        chunk = [dict(zip(keys, r, strict=True)) for r in keyed[start : start + 500]]
        stmt = (
            sqlite_insert(series_samples)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning(c.series_id, c.quality, c.ts, c.value, c.received_at)
        )
        stored_keyed.extend(conn.execute(stmt))
    if not stored_keyed:
        return 0
    stored = named(stored_keyed, names)
    conn.execute(rollup_pending.insert(), [{"bucket": b, "received_at": r} for b, r in pending_marks(stored)])
    conn.execute(
        text(
            "INSERT INTO latest_samples AS l (device_id, measurement, ts, value, quality, received_at) "
            "VALUES (:d, :m, :t, :v, :q, :r) " + LATEST_UPSERT
        ),
        [dict(zip(("d", "m", "t", "v", "q", "r"), r, strict=True)) for r in newest_per_series(stored)],
    )
    return len(stored)


__all__ = ["Row", "SampleStore", "from_us", "latest_samples", "to_us"]
