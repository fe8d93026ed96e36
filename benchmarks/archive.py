"""Cold-tier benchmarks (docs/benchmarks.md, "Cold tier").

1. Archive (PostgreSQL -> Parquet): the ingest benchmark's rows (benchmarks.ingest.make_batches: 200 devices
   x 5 measurements) COPYed into a durable PostgreSQL as a day 10 days old, then `Archiver.run` to a local
   directory: archive speed (samples/s, end to end: read, sort, encode, write, read back, verify,
   catalogue, truncate) and bytes per sample in the cold tier.
2. Queries from cold: a year of Parquet written directly with the archive's own encoder (default 32
   devices x 5 measurements every 10 s = 1.38M samples a day, 504M in 365 days) and catalogued; then,
   through ColdTier.series (the path GET /api/v1/scada/data takes), p95 of a 24 h raw query of one series
   (8,640 points), a 24 h query at step 5m, and a one-year query downsampled to 1 d and to 1 h.

    uv run python -m benchmarks.archive [--samples 2000000] [--days 365] [--devices 32] [--requests 100]
    uv run python -m benchmarks.archive --skip-year      # only part 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pyarrow as pa
from sqlalchemy import create_engine, insert

from benchmarks.common import COPY_SAMPLES, migrated_database, series_ids, summary_ms, workdir
from benchmarks.ingest import MEASUREMENTS, make_batches
from gridos.archive import parquet
from gridos.archive.archiver import Archiver
from gridos.archive.config import ArchiveSettings
from gridos.archive.query import ColdTier
from gridos.archive.storage import LocalStorage, sha256_hex
from gridos.archive.tables import ACTIVE, archive_files
from gridos.clock import day_start_us
from gridos.db.migrate import upgrade
from gridos.db.tables import devices
from gridos.telemetry.store import SampleStore, to_us
from tests.support.postgres import running_postgres

INTERVAL_S = 10


def archive_speed(samples: int, root: Path) -> dict:
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=10)
    batches = make_batches(samples, 5000, day)
    with running_postgres(fsync=True) as pg:
        db = migrated_database(pg)
        engine = create_engine(pg.url(db))
        SampleStore(engine).ensure_partitions({day.date()})
        with psycopg.connect(pg.dsn(db)) as conn, conn.cursor() as cur:
            ids = sorted({it["device_id"] for b in batches for it in b})
            for d in ids:
                cur.execute(
                    "INSERT INTO devices (id, type, site, expected_interval_s, tags, created_at, updated_at) "
                    "VALUES (%s, 'feeder', %s, 1, '{}', now(), now())",
                    (d, d.split("/")[0]),
                )
            rng = random.Random(1)
            sids = series_ids(cur, [(d, m) for d in ids for m in MEASUREMENTS])
            with cur.copy(COPY_SAMPLES) as copy:
                for items in batches:
                    for it in items:
                        ts = to_us(datetime.fromisoformat(it["timestamp"]))
                        received = ts + 150_000 + rng.randrange(50_000)  # arrives ~0.15-0.2 s later
                        for m in MEASUREMENTS:
                            copy.write_row((sids[(it["device_id"], m)], 0, ts, float(it[m]), received))
            conn.commit()
        settings = ArchiveSettings(location=str(root), after_days=7)
        archiver = Archiver(engine, LocalStorage(root), settings)
        started = time.perf_counter()
        report = archiver.run()
        elapsed = time.perf_counter() - started
        engine.dispose()
    return {
        "samples": report.rows,
        "files": report.files,
        "archive_seconds": round(elapsed, 2),
        "archive_samples_per_s": round(report.rows / elapsed),
        "cold_bytes": report.bytes,
        "cold_bytes_per_sample": round(report.bytes / report.rows, 3),
    }


def write_year(root: Path, days: int, n_devices: int, end: date) -> tuple[list[dict], int]:
    """One file per day and site, written with the archive's encoder; returns catalog rows and samples."""
    con = duckdb.connect()
    per_series = 86_400 // INTERVAL_S
    sites = 4
    entries, total = [], 0
    for k in range(days):
        day = end - timedelta(days=days - k)
        start_us = day_start_us(day)
        for s in range(sites):
            devs = [d for d in range(n_devices) if d % sites == s]
            n = len(devs) * len(MEASUREMENTS) * per_series
            path = parquet.file_path(day, f"site-{s}", 1)
            if (root / path).exists():  # --keep from an earlier run: reuse the file, only re-hash it
                data = (root / path).read_bytes()
            else:
                table = con.sql(
                    f"""
                    SELECT 'site-{s}/dev-' || (list_value({",".join(map(str, devs))})[1 + i // ({len(MEASUREMENTS)} * {per_series})]) AS device_id,
                           (list_value({",".join(repr(m) for m in MEASUREMENTS)})[1 + (i // {per_series}) % {len(MEASUREMENTS)}]) AS measurement,
                           {start_us} + (i % {per_series}) * {INTERVAL_S * 1_000_000} AS ts,
                           (11000 + (i * 7 + {k}) % 97)::DOUBLE AS value,
                           0::TINYINT AS quality,
                           {start_us} + (i % {per_series}) * {INTERVAL_S * 1_000_000} + 150000 + (hash(i) % 50000)::BIGINT AS received_at
                    FROM range({n}) t(i)
                    """
                ).to_arrow_table()
                data = parquet.encode(parquet.normalise(table))
                LocalStorage(root).put(path, data)
            entries.append(_entry(day, f"site-{s}", path, n, data, start_us))
            total += n
    return entries, total


def _entry(day: date, site: str, path: str, rows: int, data: bytes, start_us: int) -> dict:
    return {
        "day": day,
        "site": site,
        "generation": 1,
        "path": path,
        "rows": rows,
        "bytes": len(data),
        "sha256": sha256_hex(data),
        "min_ts": start_us,
        "max_ts": start_us + 86_400_000_000 - 1,
        "state": ACTIVE,
        "created_us": to_us(datetime.now(UTC)),
    }


def cold_queries(days: int, n_devices: int, requests: int, root: Path) -> dict:
    end = datetime.now(UTC).date()
    db = root / "catalog.db"
    db.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine)
    started = time.perf_counter()
    entries, total = write_year(root / "cold", days, n_devices, end)
    write_s = time.perf_counter() - started
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(insert(archive_files), entries)
        conn.execute(
            insert(devices),
            [
                {
                    "id": f"site-{d % 4}/dev-{d}",
                    "type": "feeder",
                    "site": f"site-{d % 4}",
                    "expected_interval_s": 10,
                    "tags": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for d in range(n_devices)
            ],
        )
    # Rollups kept 0 days: every whole-minute bucket comes from the cold raw samples.
    cold = ColdTier(engine, LocalStorage(root / "cold"), rollup_retention_days=0)
    rng = random.Random(7)

    def series() -> tuple[str, str]:
        d = rng.randrange(n_devices)
        return f"site-{d % 4}/dev-{d}", rng.choice(MEASUREMENTS)

    def bench(span_days: int, step_s: int | None, n: int) -> dict:
        times, sizes = [], []
        # One untimed query first: the service's DuckDB connection lives as long as the process, so its
        # Parquet footer cache is warm in steady state.
        device, m = series()
        cold.series(
            device, m, day_start_us(end - timedelta(days=days)), day_start_us(end), 86_400_000_000, 100_000
        )
        for _ in range(n):
            device, m = series()
            last = day_start_us(end)
            first_day = rng.randrange(0, days - span_days + 1) if span_days < days else 0
            s_us = day_start_us(end - timedelta(days=days - first_day)) + (
                rng.randrange(86_400) * 1_000_000 if span_days == 1 else 0
            )
            e_us = min(s_us + span_days * 86_400_000_000, last)
            t0 = time.perf_counter()
            answer = cold.series(device, m, s_us, e_us, step_s * 1_000_000 if step_s else None, 100_000)
            times.append(time.perf_counter() - t0)
            assert answer is not None
            sizes.append(len(answer[1]))
        return summary_ms(times) | {"rows_returned_median": sorted(sizes)[len(sizes) // 2]}

    result = {
        "cold_samples": total,
        "cold_files": len(entries),
        "cold_bytes_per_sample": round(sum(e["bytes"] for e in entries) / total, 3),
        "write_seconds": round(write_s, 1),
        "q24h_raw": bench(1, None, requests),
        "q24h_step_5m": bench(1, 300, requests),
        "q1y_step_1d": bench(days, 86_400, max(10, requests // 5)),
        "q1y_step_1h": bench(days, 3_600, max(10, requests // 5)),
    }
    engine.dispose()
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2_000_000, help="rows archived from PostgreSQL (part 1)")
    ap.add_argument("--days", type=int, default=365, help="days of generated cold data (part 2)")
    ap.add_argument("--devices", type=int, default=32, help="devices of the generated data (x5 measurements)")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--skip-year", action="store_true")
    ap.add_argument(
        "--keep", action="store_true", help="leave the generated year in /tmp and reuse it on the next run"
    )
    args = ap.parse_args()
    work = workdir("archive")
    result: dict = {"cpus": os.cpu_count()}
    result["archive"] = archive_speed(args.samples, work / "speed")
    if not args.skip_year:
        result["cold_queries"] = cold_queries(args.days, args.devices, args.requests, work)
    print(json.dumps(result, indent=2))
    if not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    _ = pa  # pyarrow is what the encoder uses; imported here so a missing wheel fails first
    main()
