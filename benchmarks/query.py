"""Query benchmark: p50/p95 of a 24 h history of one device downsampled to about 1,000 points, through
GET /api/v1/scada/data, over a PostgreSQL store of at least 10M samples.

Shapes measured: 24 h at step=86s (1,000 points asked; a long range rounds the step to whole minutes and
is answered from the 1-minute rollups: 1,440 buckets), 24 h at step=2m (720 buckets, rollups), and 1 h at
step=5s (720 buckets from raw samples), so the cost of each path is visible.

    uv run python -m benchmarks.query [--devices 40] [--days 3] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta

import httpx
import psycopg

from benchmarks.common import (
    COPY_SAMPLES,
    ROLLUPS_FROM_RAW,
    migrated_database,
    series_ids,
    summary_ms,
    workdir,
)
from gridos.telemetry.store import SampleStore, to_us
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos


def load(dsn: str, devices: int, days: int, end: datetime) -> int:
    """1 Hz voltage for every device over `days` days, COPYed in, then rollups built in SQL."""
    start_us = to_us(end - timedelta(days=days))
    seconds = days * 86_400
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for d in range(devices):
            device = f"site-{d // 10}/dev-{d}"
            cur.execute(
                "INSERT INTO devices (id, type, site, expected_interval_s, tags, created_at, updated_at) "
                "VALUES (%s, 'feeder', %s, 1, '{}', now(), now())",
                (device, f"site-{d // 10}"),
            )
            sid = series_ids(cur, [(device, "voltage")])[(device, "voltage")]
            with cur.copy(COPY_SAMPLES) as cp:
                for s in range(seconds):
                    ts = start_us + s * 1_000_000
                    cp.write_row((sid, 0, ts, 11000 + (s % 600) * 0.5 + random.random(), ts))
            conn.commit()
        cur.execute(ROLLUPS_FROM_RAW)
        cur.execute("ANALYZE")
        conn.commit()
        return int(cur.execute("SELECT count(*) FROM samples").fetchone()[0])  # type: ignore[index]


def measure(url: str, token: str, devices: int, end: datetime, window_h: int, step: str, n: int) -> dict:
    latencies: list[float] = []
    points = 0
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as c:
        for i in range(n + 10):
            d = random.randrange(devices)
            to = end - timedelta(minutes=random.randrange(0, 600))
            params = {
                "device_id": f"site-{d // 10}/dev-{d}",
                "measurement": "voltage",
                "from": (to - timedelta(hours=window_h)).isoformat(),
                "to": to.isoformat(),
                "step": step,
            }
            started = time.perf_counter()
            r = c.get("/api/v1/scada/data", params=params)
            elapsed = time.perf_counter() - started
            r.raise_for_status()
            if i >= 10:  # first requests warm caches and connections
                latencies.append(elapsed)
                points = len(r.json()["buckets"])
    body = r.json()
    return {
        "window_h": window_h,
        "step": step,
        "step_used_s": body["step_seconds"],
        "buckets": points,
        "source": body["source"],
        **summary_ms(latencies),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=40)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200)
    args = ap.parse_args()
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with running_postgres(fsync=True) as pg:
        db = migrated_database(pg)
        from sqlalchemy import create_engine

        engine = create_engine(pg.url(db))
        SampleStore(engine).maintain(end, args.days + 2, 400, 1)
        engine.dispose()
        started = time.perf_counter()
        total = load(pg.dsn(db), args.devices, args.days, end)
        load_s = time.perf_counter() - started
        server = start_gridos(
            workdir("query"),
            {
                "GRIDOS_DATABASE_URL": pg.url(db),
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_RETENTION_DAYS": str(args.days + 2),
            },
        )
        try:
            results = [
                measure(server.url, server.admin_token, args.devices, end, window, step, args.requests)
                for window, step in ((24, "86s"), (24, "2m"), (1, "5s"))
            ]
        finally:
            server.stop()
    print(
        json.dumps(
            {"samples_in_store": total, "load_seconds": round(load_s, 1), "results": results}, indent=2
        )
    )


if __name__ == "__main__":
    main()
