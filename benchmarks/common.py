"""Shared pieces of the benchmarks: a durable PostgreSQL (fsync on), GridOS processes, timing helpers."""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy import create_engine

from gridos.db.migrate import upgrade
from gridos.telemetry.store import SampleStore
from tests.support.postgres import PostgresServer


def migrated_database(pg: PostgresServer) -> str:
    """A new database at the latest schema, with the partitions of the coming days already there, so no
    timed run pays for creating them."""
    name = pg.create_database()
    engine = create_engine(pg.url(name))
    upgrade(engine)
    SampleStore(engine).maintain(datetime.now(UTC), 30, 400, 2)
    engine.dispose()
    return name


def pg_bytes(dsn: str) -> int:
    """Every table of the database with its indexes and TOAST (partitions are tables of their own)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    return int(row[0])  # type: ignore[index]


def pg_bytes_by_table(dsn: str) -> dict[str, tuple[int, int]]:
    """(table bytes, index bytes) per table, the day partitions of raw samples summed as `raw samples`,
    those of series_segments as `segments`."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT CASE WHEN c.relname LIKE '%%samples_p%%' THEN 'raw samples'"
            " WHEN c.relname LIKE 'series_segments_p%%' THEN 'segments' ELSE c.relname END,"
            " sum(pg_table_size(c.oid)), sum(pg_indexes_size(c.oid)) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
            " GROUP BY 1"
        ).fetchall()
    return {name: (int(t), int(i)) for name, t, i in rows}


def growth_per_sample(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], samples: int
) -> dict[str, dict[str, float]]:
    """Bytes per sample that each table (and its indexes) grew by between two pg_bytes_by_table, for the
    tables that grew by at least 0.01 byte per sample."""
    out = {}
    for name, (table, index) in after.items():
        t0, i0 = before.get(name, (0, 0))
        if (table - t0) + (index - i0) >= samples // 100:
            out[name] = {
                "table": round((table - t0) / samples, 1),
                "indexes": round((index - i0) / samples, 1),
            }
    return out


# Raw samples by integer series id, as the store keeps them: rows (series_id, quality, ts, value, received_at).
COPY_SAMPLES = "COPY series_samples (series_id, quality, ts, value, received_at) FROM STDIN"
# The 1-minute rollups of everything loaded with COPY_SAMPLES, as the rollup job would write them (the loaders
# bypass ingest, so nothing is pending).
ROLLUPS_FROM_RAW = (
    "INSERT INTO rollups_1m (series_id, count, bucket, min, max, sum, last, last_ts) "
    "SELECT series_id, count(*), ts - ts % 60000000, min(value), max(value), sum(value), "
    "(array_agg(value ORDER BY ts DESC))[1], max(ts) FROM series_samples WHERE quality < 2 GROUP BY 1, 3"
)


def series_ids(cur: psycopg.Cursor, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Register (device_id, measurement) series for a bulk load and return their ids (before a COPY:
    a connection cannot query while it copies)."""
    out = {}
    for device_id, measurement in keys:
        row = cur.execute(
            "INSERT INTO series (device_id, measurement) VALUES (%s, %s) ON CONFLICT (device_id, measurement) "
            "DO UPDATE SET measurement = EXCLUDED.measurement RETURNING id",
            (device_id, measurement),
        ).fetchone()
        out[(device_id, measurement)] = int(row[0])  # type: ignore[index]
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p95_ms": round(percentile(values, 0.95) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


def disk_usage(*paths: Path) -> tuple[int, int]:
    """(allocated bytes as `du` counts them, apparent bytes) of every file under `paths`."""
    allocated = apparent = 0
    for top in paths:
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                allocated += st.st_blocks * 512
                apparent += st.st_size
    return allocated, apparent


def workdir(name: str) -> Path:
    path = Path("/tmp") / f"gridos-bench-{name}"
    path.mkdir(exist_ok=True)
    return path
