"""Ingest benchmark: samples/s committed to PostgreSQL through POST /api/v1/scada/data, side by side in
one run with a raw COPY of the same rows into the same `samples` table (the physical limit here).

Both write to a durable PostgreSQL (fsync on, synchronous_commit on) started for the run. The API path
also deduplicates, maintains the latest-value table and the 1-minute rollups in the same transaction;
raw COPY does none of that.

    uv run python -m benchmarks.ingest [--samples 2000000] [--batch 5000] [--clients 4] [--workers 2]
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

from benchmarks.common import migrated_database, workdir
from gridos.telemetry.store import to_us
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


def run_copy(dsn: str, batches: list[list[dict]], clients: int) -> float:
    received = to_us(datetime.now(UTC))
    row_batches = [
        [
            (it["device_id"], m, to_us(datetime.fromisoformat(it["timestamp"])), float(it[m]), 0, received)
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
                        "COPY samples (device_id, measurement, ts, value, quality, received_at) FROM STDIN"
                    ) as copy,
                ):
                    for row in rows:
                        copy.write_row(row)
                conn.commit()

    chunks = [row_batches[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker, c) for c in chunks]:
            f.result()
    return time.perf_counter() - started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="GridOS worker processes")
    ap.add_argument(
        "--env", action="append", default=[], metavar="GRIDOS_X=V", help="extra GridOS setting (repeatable)"
    )
    args = ap.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    batches = make_batches(args.samples, args.batch, start)
    bodies = [orjson.dumps(b) for b in batches]
    total = sum(len(b) for b in batches) * len(MEASUREMENTS)
    with running_postgres(fsync=True) as pg:
        api_db, copy_db = migrated_database(pg), migrated_database(pg)
        # The same partitions exist for both before timing starts.
        for db in (api_db, copy_db):
            from sqlalchemy import create_engine

            from gridos.telemetry.store import SampleStore

            engine = create_engine(pg.url(db))
            SampleStore(engine).maintain(datetime.now(UTC), 30, 400, 2)
            engine.dispose()
        server = start_gridos(
            workdir("ingest"),
            {
                "GRIDOS_DATABASE_URL": pg.url(api_db),
                "GRIDOS_UNKNOWN_DEVICE": "auto_register",
                "GRIDOS_WORKERS": str(args.workers),
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_DB_POOL_SIZE": str(args.clients),
                **extra_env,
            },
        )
        try:
            # Warm-up: registers the devices and the connections.
            run_api(server.url, server.ingest_token, [orjson.dumps(b[:50]) for b in batches[:4]], 2)
            api_s = run_api(server.url, server.ingest_token, bodies, args.clients)
        finally:
            server.stop()
        copy_s = run_copy(pg.dsn(copy_db), batches, args.clients)
        with psycopg.connect(pg.dsn(api_db)) as c:
            stored = c.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
    api_rate, copy_rate = total / api_s, total / copy_s
    result = {
        "samples": total,
        "batch_samples": args.batch,
        "clients": args.clients,
        "gridos_workers": args.workers,
        "api_samples_per_s": round(api_rate),
        "copy_samples_per_s": round(copy_rate),
        "ratio_api_to_copy": round(api_rate / copy_rate, 3),
        "api_rows_stored": stored,
        "cpus": os.cpu_count(),
        "extra_env": extra_env,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
