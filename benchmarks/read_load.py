"""Read API under load on PostgreSQL: requests/s and latency percentiles of the operator's three reads at
2, 16 and 128 concurrent connections, with wrk against a real GridOS process.

Reads: `GET /api/v1/scada/status` (grid summary), `GET /api/v1/scada/data` for 1 h of one device raw
(3,600 points) and bucketed (step=60s: 60 buckets from the 1-minute rollups). Store: DEVICES devices at 1 Hz over
the last 2 hours, COPYed in with their rollups, then one sample per device through the API so that the latest values exist.

    uv run python -m benchmarks.read_load [--devices 60] [--seconds 10] [--connections 2,16,128]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg

from benchmarks.common import COPY_SAMPLES, ROLLUPS_FROM_RAW, migrated_database, series_ids, workdir
from gridos.telemetry.store import SampleStore, to_us
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos

# wrk reports its own percentiles through this script (its text output has no p95).
WRK_SCRIPT = """
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.timeout + summary.errors.status
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "errors": %d, "p50_ms": %.2f, "p95_ms": %.2f, '
    .. '"p99_ms": %.2f, "max_ms": %.2f}\\n',
    summary.requests, summary.duration / 1e6, errors, latency:percentile(50) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def load(dsn: str, devices: int, end: datetime, hours: int = 2) -> int:
    start_us = to_us(end - timedelta(hours=hours))
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        for d in range(devices):
            device = f"site-{d // 10}/dev-{d}"
            cur.execute(
                "INSERT INTO devices (id, type, site, nominal_voltage, nominal_frequency, expected_interval_s, "
                "tags, created_at, updated_at) VALUES (%s, 'feeder', %s, 11000, 50, 1, '{}', now(), now())",
                (device, f"site-{d // 10}"),
            )
            sid = series_ids(cur, [(device, "voltage")])[(device, "voltage")]
            with cur.copy(COPY_SAMPLES) as cp:
                for s in range(hours * 3600):
                    ts = start_us + s * 1_000_000
                    cp.write_row((sid, 0, ts, 11000 + (s % 600) * 0.5 + random.random(), ts))
        cur.execute(ROLLUPS_FROM_RAW)
        cur.execute("ANALYZE")
        conn.commit()
        return int(cur.execute("SELECT count(*) FROM samples").fetchone()[0])  # type: ignore[index]


def wrk(url: str, token: str, connections: int, seconds: int, script: Path) -> dict[str, Any]:
    threads = min(connections, os.cpu_count() or 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        env=os.environ | {"BENCH_TOKEN": token},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["requests_per_s"] = round(result["requests"] / result["duration_s"], 1)
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=60)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", default="2,16,128")
    ap.add_argument("--workers", type=int, default=1, help="GRIDOS_WORKERS of the server")
    ap.add_argument(
        "--py-spy",
        default="",
        help="path of a py-spy binary: record collapsed stacks of the server at the highest concurrency "
        "(to /tmp/gridos-bench-read-load/<read>.folded)",
    )
    args = ap.parse_args()
    levels = [int(c) for c in args.connections.split(",")]
    end = datetime.now(UTC).replace(microsecond=0)
    with running_postgres(fsync=True) as pg, tempfile.TemporaryDirectory() as tmp:
        db = migrated_database(pg)
        from sqlalchemy import create_engine

        engine = create_engine(pg.url(db))
        SampleStore(engine).maintain(end, 3, 400, 1)
        engine.dispose()
        total = load(pg.dsn(db), args.devices, end)
        script = Path(tmp) / "report.lua"
        script.write_text(WRK_SCRIPT)
        server = start_gridos(
            workdir("read-load"),
            {
                "GRIDOS_DATABASE_URL": pg.url(db),
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_WORKERS": str(args.workers),
                "GRIDOS_ALARMS_ENABLED": "false",
            },
        )
        try:
            with httpx.Client(
                base_url=server.url, headers={"Authorization": f"Bearer {server.admin_token}"}
            ) as c:
                c.post(
                    "/api/v1/scada/data",
                    json=[
                        {"device_id": f"site-{d // 10}/dev-{d}", "voltage": 11000.0, "frequency": 50.0}
                        for d in range(args.devices)
                    ],
                ).raise_for_status()
            device = "site-0/dev-0"
            frm = (end - timedelta(hours=1)).isoformat().replace("+00:00", "Z")
            to = end.isoformat().replace("+00:00", "Z")
            history = f"{server.url}/api/v1/scada/data?device_id={device}&from={frm}&to={to}"
            reads = {
                "status": f"{server.url}/api/v1/scada/status",
                "history 1 h raw": history,
                "history 1 h step=60s": history + "&step=60s",
            }
            with httpx.Client(headers={"Authorization": f"Bearer {server.admin_token}"}) as c:
                for name, url in reads.items():
                    r = c.get(url)
                    r.raise_for_status()
                    body = r.json()
                    size = len(body.get("points") or body.get("buckets") or body.get("sites") or [])
                    print(f"# {name}: {len(r.content)} bytes, {size} items", flush=True)
            results = []
            for name, url in reads.items():
                for connections in levels:
                    wrk(url, server.admin_token, 2, 2, script)  # warm-up
                    spy = None
                    if args.py_spy and connections == max(levels) and server.proc is not None:
                        out = workdir("read-load") / f"{name.replace(' ', '_')}.folded"
                        spy = subprocess.Popen(
                            [
                                args.py_spy,
                                "record",
                                "-p",
                                str(server.proc.pid),
                                "-d",
                                str(args.seconds),
                                "-r",
                                "200",
                                "--threads",
                                "--format",
                                "raw",
                                "-o",
                                str(out),
                                "--nonblocking",
                            ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    result = {"read": name, "connections": connections} | wrk(
                        url, server.admin_token, connections, args.seconds, script
                    )
                    if spy is not None:
                        spy.wait(60)
                    print(json.dumps(result), flush=True)
                    results.append(result)
                    time.sleep(1)
        finally:
            server.stop()
    print(json.dumps({"samples_in_store": total, "devices": args.devices, "results": results}, indent=2))


if __name__ == "__main__":
    main()
