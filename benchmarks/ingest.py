"""Ingest benchmark: samples/s committed to PostgreSQL through POST /api/v1/scada/data, side by side in
one run with a raw binary COPY of the same rows into the same table (`series_samples`, by integer series
id: the physical limit here), and the bytes per sample the API path left on disk.

Both write to a durable PostgreSQL (fsync on, synchronous_commit on) started for the run. The API path
also deduplicates, maintains the latest-value table and marks the minutes written for the rollup job in the
same transaction; raw COPY does none of that. Bytes: growth of every table with its indexes
(pg_total_relation_size) over the timed part, divided by the samples written. The service's rollup job is
held off during the timed part; `--rollup-job` then runs it once (timed; it also compacts the closed
minutes into `series_segments`) and measures the bytes again, and once more after a plain VACUUM of the
database (the compacted raw rows' space is then free for reuse, though files and indexes keep their size).

    uv run python -m benchmarks.ingest [--samples 2000000] [--batch 5000] [--clients 4] [--workers 2]
        [--no-copy] [--rollup-job [--second-round]]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import psycopg
from sqlalchemy import create_engine

from benchmarks.common import growth_per_sample, migrated_database, pg_bytes, pg_bytes_by_table, workdir
from gridos.telemetry.store import SampleStore, to_us
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos

MEASUREMENTS = ("voltage", "current", "power_factor", "frequency", "active_power")
DEVICES = 200


def make_batches(total: int, batch: int, start: datetime) -> list[list[dict]]:
    """Wide items: one object per device and second carrying 5 measurements."""
    per_item = len(MEASUREMENTS)
    items_per_batch = batch // per_item
    batches: list[list[dict]] = []
    n_items = total // per_item
    for b in range(0, n_items, items_per_batch):
        items = []
        for i in range(b, min(n_items, b + items_per_batch)):
            ts = (start + timedelta(seconds=i // DEVICES)).isoformat()
            items.append(
                {
                    "device_id": f"site-{i % DEVICES // 50}/dev-{i % DEVICES}",
                    "timestamp": ts,
                    "voltage": 11000 + i % 97,
                    "current": 400 + i % 13,
                    "power_factor": 0.95,
                    "frequency": 50.0 + (i % 7) / 1000,
                    "active_power": 7000.0 + i % 31,
                }
            )
        batches.append(items)
    return batches


def run_api(url: str, token: str, bodies: list[bytes], clients: int) -> float:
    def worker(chunk: list[bytes]) -> None:
        with httpx.Client(
            base_url=url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=120,
        ) as c:
            for body in chunk:
                r = c.post("/api/v1/scada/data", content=body)
                r.raise_for_status()

    chunks = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker, c) for c in chunks]:
            f.result()
    return time.perf_counter() - started


def run_copy(url: str, dsn: str, batches: list[list[dict]], clients: int) -> float:
    received = to_us(datetime.now(UTC))
    engine = create_engine(url)
    ids = SampleStore(engine).series_ids(
        {(it["device_id"], m) for items in batches for it in items for m in MEASUREMENTS}
    )
    engine.dispose()
    row_batches = [
        [
            (
                ids[(it["device_id"], m)],
                0,
                to_us(datetime.fromisoformat(it["timestamp"])),
                float(it[m]),
                received,
            )
            for it in items
            for m in MEASUREMENTS
        ]
        for items in batches
    ]

    def worker(chunk: list[list[tuple]]) -> None:
        with psycopg.connect(dsn) as conn:
            for rows in chunk:
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY series_samples (series_id, quality, ts, value, received_at) "
                        "FROM STDIN (FORMAT BINARY)"
                    ) as copy,
                ):
                    copy.set_types(["int4", "int2", "int8", "float8", "int8"])
                    for row in rows:
                        copy.write_row(row)
                conn.commit()

    chunks = [row_batches[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker, c) for c in chunks]:
            f.result()
    return time.perf_counter() - started


def _rollup_job(url: str, total: int) -> dict[str, object]:
    """One run of the service's rollup job over everything written (every minute is closed: the data is
    12 hours old)."""
    import threading

    from gridos.config import Settings
    from gridos.telemetry.rollups import RollupJob

    engine = create_engine(url)
    started = time.perf_counter()
    minutes = RollupJob(Settings(database_url=url), engine, threading.Lock()).run(pause=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"minutes": minutes, "seconds": round(seconds, 2), "samples_per_s": round(total / seconds)}


def _second_round(
    args: argparse.Namespace, env: dict[str, str], dsn: str, url: str, start: datetime, total: int
) -> dict[str, object]:
    """The same workload again right after the first (a running historian's next minutes): its REST rate,
    and the bytes per sample it added once the job ran and a VACUUM made the first round's space free."""
    later = start + timedelta(seconds=args.samples // len(MEASUREMENTS) // DEVICES)
    bodies = [orjson.dumps(b) for b in make_batches(args.samples, args.batch, later)]
    with psycopg.connect(dsn, autocommit=True) as c:
        # A B-tree page emptied by one VACUUM is handed out for reuse by a later one (once no snapshot
        # can still need it): what autovacuum's next visit does in a running historian.
        c.execute("SELECT txid_current()")
        c.execute("VACUUM")
        # The first round's write-ahead log (the job's compaction wrote its rows twice) is flushed now, not
        # by a checkpoint in the middle of this round's timed part.
        c.execute("CHECKPOINT")
    before, before_tables = pg_bytes(dsn), pg_bytes_by_table(dsn)
    server = start_gridos(workdir("ingest"), env)
    try:
        api_s = run_api(server.url, server.ingest_token, bodies, args.clients)
    finally:
        server.stop()
    _rollup_job(url, total)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("VACUUM")
    return {
        "api_samples_per_s": round(total / api_s),
        "bytes_per_sample_after_job_and_vacuum": round((pg_bytes(dsn) - before) / total, 1),
        "bytes_per_sample_by_table": growth_per_sample(before_tables, pg_bytes_by_table(dsn), total),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="GridOS worker processes")
    ap.add_argument(
        "--env", action="append", default=[], metavar="GRIDOS_X=V", help="extra GridOS setting (repeatable)"
    )
    ap.add_argument(
        "--no-copy",
        action="store_true",
        help="API path only (e.g. to measure an older schema, same workload)",
    )
    ap.add_argument(
        "--second-round",
        action="store_true",
        help="with --rollup-job: after the job and VACUUM, write as much again (the minutes after), run "
        "the job, VACUUM, and report that round's growth (space freed by the first round reused)",
    )
    ap.add_argument(
        "--rollup-job",
        action="store_true",
        help="after the write, run the rollup job once: its time and the bytes after it",
    )
    args = ap.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    batches = make_batches(args.samples, args.batch, start)
    bodies = [orjson.dumps(b) for b in batches]
    total = sum(len(b) for b in batches) * len(MEASUREMENTS)
    with running_postgres(fsync=True) as pg:
        api_db, copy_db = migrated_database(pg), migrated_database(pg)
        env = {
            "GRIDOS_DATABASE_URL": pg.url(api_db),
            "GRIDOS_UNKNOWN_DEVICE": "auto_register",
            "GRIDOS_WORKERS": str(args.workers),
            "GRIDOS_LOG_LEVEL": "WARNING",
            "GRIDOS_DB_POOL_SIZE": str(args.clients),
            # Not during the timed part: `--rollup-job` runs it afterwards, on its own.
            "GRIDOS_ROLLUP_INTERVAL_SECONDS": "86400",
            **extra_env,
        }
        server = start_gridos(workdir("ingest"), env)
        try:
            # Warm-up: registers the devices and the connections.
            run_api(server.url, server.ingest_token, [orjson.dumps(b[:50]) for b in batches[:4]], 2)
            before = pg_bytes(pg.dsn(api_db))
            before_tables = pg_bytes_by_table(pg.dsn(api_db))
            api_s = run_api(server.url, server.ingest_token, bodies, args.clients)
        finally:
            server.stop()
        api_bytes = pg_bytes(pg.dsn(api_db)) - before
        breakdown = growth_per_sample(before_tables, pg_bytes_by_table(pg.dsn(api_db)), total)
        job: dict[str, object] = {}
        if args.rollup_job:
            job = _rollup_job(pg.url(api_db), total)
            job["bytes_per_sample"] = round((pg_bytes(pg.dsn(api_db)) - before) / total, 1)
            job["bytes_per_sample_by_table"] = growth_per_sample(
                before_tables, pg_bytes_by_table(pg.dsn(api_db)), total
            )
            with psycopg.connect(pg.dsn(api_db), autocommit=True) as c:
                job["raw_rows_left"] = c.execute("SELECT count(*) FROM series_samples").fetchone()[0]  # type: ignore[index]
                c.execute("VACUUM")
            job["after_vacuum"] = {
                "bytes_per_sample": round((pg_bytes(pg.dsn(api_db)) - before) / total, 1),
                "bytes_per_sample_by_table": growth_per_sample(
                    before_tables, pg_bytes_by_table(pg.dsn(api_db)), total
                ),
            }
        if args.rollup_job and args.second_round:
            job["second_round"] = _second_round(args, env, pg.dsn(api_db), pg.url(api_db), start, total)
        copy_s = None if args.no_copy else run_copy(pg.url(copy_db), pg.dsn(copy_db), batches, args.clients)
        with psycopg.connect(pg.dsn(api_db)) as c:
            stored = c.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
    api_rate = total / api_s
    copy_rate = total / copy_s if copy_s else None
    result = {
        "samples": total,
        "batch_samples": args.batch,
        "clients": args.clients,
        "gridos_workers": args.workers,
        "api_samples_per_s": round(api_rate),
        "copy_samples_per_s": round(copy_rate) if copy_rate else None,
        "ratio_api_to_copy": round(api_rate / copy_rate, 3) if copy_rate else None,
        "api_bytes_per_sample": round(api_bytes / total, 1),
        "api_bytes_per_sample_by_table": breakdown,
        "api_rows_stored": stored,
        "after_rollup_job": job or None,
        "cpus": os.cpu_count(),
        "loadavg_after": os.getloadavg(),
        "extra_env": extra_env,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
