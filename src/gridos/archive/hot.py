"""The one reader of the hot tier the archive uses: "the samples of a UTC day", and the matching delete.

Everything the cold tier knows about the layout of `samples` is in this module, so a change of the
historian's row format touches this file and nothing else in the archive. Reads go through the view
`samples` (names joined back from the integer series ids; on PostgreSQL raw rows and the segments of
compacted minutes, gridos.telemetry.segments); deletes go to `series_samples`, `series_segments` and their
day partitions.
"""

# SQL here is assembled from table/column names of this code base and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date

import pyarrow as pa
import pyarrow.csv as pcsv
from sqlalchemy import Engine, text

from gridos.clock import DAY_US, day_of_us, day_start_us
from gridos.telemetry.segments import points
from gridos.telemetry.store import existing_partitions, partition_name, segment_partition_name

UNREGISTERED = "_unregistered"
_COLUMNS = ("device_id", "measurement", "ts", "value", "quality", "received_at")
_TYPES = {
    "device_id": pa.string(),
    "measurement": pa.string(),
    "ts": pa.int64(),
    "value": pa.float64(),
    "quality": pa.int8(),
    "received_at": pa.int64(),
}


def days_with_samples(engine: Engine, before: date) -> list[date]:
    """UTC days before `before` that still hold hot samples, oldest first."""
    limit = day_start_us(before)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            days = []
            for day in existing_partitions(conn):
                if (
                    day < before
                    and conn.exec_driver_sql(
                        f"SELECT 1 FROM {partition_name(day)} UNION ALL "
                        f"SELECT 1 FROM {segment_partition_name(day)} LIMIT 1"
                    ).first()
                ):
                    days.append(day)
            return sorted(days)
        days = []
        floor = None
        # SQLite has no partitions: step from the oldest sample, one day at a time.
        while True:
            cond = "ts < :limit" + (" AND ts >= :floor" if floor is not None else "")
            oldest = conn.execute(
                text(f"SELECT min(ts) FROM samples WHERE {cond}"), {"limit": limit, "floor": floor}
            ).scalar()
            if oldest is None:
                return days
            day = day_of_us(int(oldest))
            days.append(day)
            floor = day_start_us(day) + DAY_US


def sites_of_day(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT DISTINCT site FROM devices ORDER BY site"))]


def read_day(engine: Engine, day: date) -> Iterator[tuple[str, pa.Table]]:
    """(site, rows) for every site with samples on `day`; samples of devices no longer registered come
    under the site `_unregistered`. One site at a time keeps memory bounded by the largest site."""
    start = day_start_us(day)
    params: dict[str, object] = {"s": start, "e": start + DAY_US}
    cols = ", ".join(f"s.{c}" for c in _COLUMNS)
    # The day's samples by name (the view `samples`, narrowed to the day: segments are read by bucket).
    day_points = points(engine.dialect.name == "postgresql", ":s", ":e")
    base = (
        f"SELECT {cols} FROM (SELECT n.device_id, n.measurement, p.ts, p.value, p.quality, p.received_at "
        f"FROM {day_points} p JOIN series n ON n.id = p.series_id) s"
    )
    for site in [*sites_of_day(engine), None]:
        if site is None:
            where = "NOT EXISTS (SELECT 1 FROM devices d WHERE d.id = s.device_id)"
            sql = f"{base} WHERE s.ts >= :s AND s.ts < :e AND {where}"
            query_params = params
        else:
            sql = f"{base} JOIN devices d ON d.id = s.device_id WHERE s.ts >= :s AND s.ts < :e AND d.site = :site"
            query_params = params | {"site": site}
        table = _fetch(engine, sql, query_params)
        if table.num_rows:
            yield (site if site is not None else UNREGISTERED), table


def _fetch(engine: Engine, sql: str, params: dict) -> pa.Table:
    if engine.dialect.name == "postgresql":
        # COPY out as CSV and let Arrow parse it: a day of samples as Python tuples would cost minutes.
        # PostgreSQL 12+ prints floats in their shortest exact form, so values round-trip bit for bit.
        with engine.connect() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            pg_sql = sql.replace(":site", "%(site)s").replace(":s", "%(s)s").replace(":e", "%(e)s")
            buf = io.BytesIO()
            with (
                raw.cursor() as cur,
                cur.copy(f"COPY ({pg_sql}) TO STDOUT WITH (FORMAT csv)", params) as copy,
            ):
                for chunk in copy:
                    buf.write(chunk)
        if not buf.tell():
            return pa.table({c: pa.array([], type=t) for c, t in _TYPES.items()})
        buf.seek(0)
        return pcsv.read_csv(
            buf,
            read_options=pcsv.ReadOptions(column_names=list(_COLUMNS)),
            convert_options=pcsv.ConvertOptions(column_types=_TYPES, strings_can_be_null=False),
        )
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return pa.table({c: pa.array([r[i] for r in rows], type=_TYPES[c]) for i, c in enumerate(_COLUMNS)})


def delete_day(engine: Engine, day: date, expected_rows: int) -> bool:
    """Drop the hot samples of `day` if and only if there are exactly `expected_rows` of them, i.e. none
    arrived after they were archived (samples are insert-only, so the count identifies the set), and the
    rollup job has rolled up every minute of it (it reads the hot rows of the minutes still pending).
    The day's rollups go in the same transaction: the cold tier answers whole-minute steps of archived
    days from Parquet (gridos.archive.query), so an old day costs its Parquet bytes only.
    Returns False, deleting nothing, otherwise: the next run archives the late rows first."""
    start = day_start_us(day)
    pending = "SELECT 1 FROM rollup_pending WHERE bucket >= :s AND bucket < :e LIMIT 1"
    rollups = "DELETE FROM rollups_1m WHERE bucket >= :s AND bucket < :e"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            name, segments = partition_name(day), segment_partition_name(day)
            # ACCESS EXCLUSIVE: no insert (nor a compaction) can slip in between the count and the truncate.
            conn.exec_driver_sql(f"LOCK TABLE {name}, {segments} IN ACCESS EXCLUSIVE MODE")
            count = conn.exec_driver_sql(
                f"SELECT (SELECT count(*) FROM {name}) "
                f"+ (SELECT coalesce(sum(cardinality(offsets)), 0) FROM {segments})"
            ).scalar()
            if count != expected_rows:
                return False
            if conn.execute(text(pending), {"s": start, "e": start + DAY_US}).first():
                return False
            # TRUNCATE, not DROP: the partition stays for the retention window, so a late sample for
            # this day is stored (and archived on the next run) instead of failing for want of a partition.
            conn.exec_driver_sql(f"TRUNCATE {name}, {segments}")
            conn.execute(text(rollups), {"s": start, "e": start + DAY_US})
            return True
        if conn.execute(text(pending), {"s": start, "e": start + DAY_US}).first():
            return False
        deleted = conn.execute(
            text("DELETE FROM series_samples WHERE ts >= :s AND ts < :e"),
            {"s": start, "e": start + DAY_US},
        ).rowcount
        if deleted != expected_rows:
            conn.rollback()
            return False
        conn.execute(text(rollups), {"s": start, "e": start + DAY_US})
        return True
