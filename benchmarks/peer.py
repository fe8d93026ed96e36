"""Peer benchmark: the workload of benchmarks/ingest.py written, in one run, to InfluxDB 1.6 and to GridOS
on PostgreSQL; samples/s and bytes/sample for each.

- InfluxDB 1.6 (the Debian package's /usr/bin/influxd), started here from a generated config in a temporary
  directory: free ports, no usage reporting, `wal-fsync-delay = "0s"` (every write fsynced before its 204,
  like GridOS's commit). Body: one line-protocol line per reading, 5 fields
  (`grid,device_id=site-0/dev-1 voltage=11000,current=400,... <seconds>`), POST /write?precision=s.
  Bytes: `du` of its data and wal directories right after the write (and the apparent size).
- GridOS (`gridos serve`, 2 workers by default) on a durable PostgreSQL (fsync on) started here, through
  1. REST: the JSON arrays of benchmarks/ingest.py, POST /api/v1/scada/data;
  2. line protocol: the very bodies sent to InfluxDB, POST /api/v2/write?precision=s.
  Each path writes into its own freshly migrated database, so bytes are measured per path:
  the growth of pg_total_relation_size over every table (samples partitions, latest values, rollups,
  device registry, with indexes and TOAST), right after the write.
The 200 devices are registered before timing starts; 4 client threads post the batches.

    uv run python -m benchmarks.peer [--samples 2000000] [--batch 5000] [--clients 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg

from benchmarks.common import migrated_database, pg_bytes, workdir
from benchmarks.ingest import DEVICES, MEASUREMENTS, make_batches
from tests.support.postgres import PostgresServer, free_port, running_postgres
from tests.support.process import http_ok, stop, wait_ready
from tests.support.servers import GridosServer, start_gridos

INFLUXD = os.environ.get("INFLUXD", "/usr/bin/influxd")


# -- InfluxDB 1.6 ------------------------------------------------------------------------------------


@dataclass
class Influx:
    url: str
    root: Path
    data_dirs: tuple[Path, Path]


def influx_config(root: Path, http_port: int, rpc_port: int) -> str:
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / "meta"}"
  logging-enabled = false

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""


@contextlib.contextmanager
def running_influxdb() -> Iterator[Influx]:
    if not Path(INFLUXD).exists():
        raise SystemExit(f"{INFLUXD} not found: apt-get install influxdb (make system-deps)")
    root = Path(tempfile.mkdtemp(prefix="gridos-influx-"))
    http_port, rpc_port = free_port(), free_port()
    config = root / "influxdb.conf"
    config.write_text(influx_config(root, http_port, rpc_port))
    log = (root / "influxd.log").open("wb")
    proc = subprocess.Popen([INFLUXD, "run", "-config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_ready(proc, http_ok(f"{url}/ping", status=204), "influxd", root / "influxd.log", timeout=60)
        yield Influx(url, root, (root / "data", root / "wal"))
    finally:
        stop(proc, timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


def disk_usage(paths: tuple[Path, ...]) -> tuple[int, int]:
    """(allocated bytes as `du` counts them, apparent bytes) of every file under `paths`."""
    allocated = apparent = 0
    for top in paths:
        for dirpath, _dirs, files in os.walk(top):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                allocated += st.st_blocks * 512
                apparent += st.st_size
    return allocated, apparent


# -- workload ----------------------------------------------------------------------------------------


def line_bodies(batches: list[list[dict]]) -> list[bytes]:
    """The same readings as line protocol: one line per reading, its 5 measurements as fields."""
    out = []
    for items in batches:
        lines = []
        for it in items:
            ts = int(datetime.fromisoformat(it["timestamp"]).timestamp())
            fields = ",".join(f"{m}={it[m]}" for m in MEASUREMENTS)
            lines.append(f"grid,device_id={it['device_id']} {fields} {ts}")
        out.append("\n".join(lines).encode())
    return out


def post_all(url: str, path: str, headers: dict[str, str], bodies: list[bytes], clients: int) -> float:
    """Seconds for `clients` threads to post every body, each answered 2xx (committed)."""

    def worker(chunk: list[bytes]) -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=300) as c:
            for body in chunk:
                r = c.post(path, content=body)
                if r.status_code >= 300:
                    raise RuntimeError(f"{path}: {r.status_code} {r.text[:500]}")

    chunks = [bodies[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        for f in [pool.submit(worker, c) for c in chunks]:
            f.result()
    return time.perf_counter() - started


def run_influx(bodies: list[bytes], clients: int, lines: int) -> dict[str, float]:
    with running_influxdb() as influx:
        httpx.post(f"{influx.url}/query", params={"q": "CREATE DATABASE bench"}).raise_for_status()
        seconds = post_all(influx.url, "/write?db=bench&precision=s", {}, bodies, clients)
        allocated, apparent = disk_usage(influx.data_dirs)
        r = httpx.get(
            f"{influx.url}/query", params={"db": "bench", "q": "SELECT count(voltage) FROM grid"}, timeout=300
        )
        r.raise_for_status()
        stored = r.json()["results"][0]["series"][0]["values"][0][1]
    if stored != lines:
        raise RuntimeError(f"InfluxDB holds {stored} points, expected {lines}")
    return {"seconds": seconds, "du_bytes": allocated, "apparent_bytes": apparent, "points_stored": stored}


# -- GridOS ------------------------------------------------------------------------------------------


def register_devices(server: GridosServer) -> None:
    with server.client() as c:
        for i in range(DEVICES):
            site = f"site-{i // 50}"
            r = c.put(f"/api/v1/devices/{site}/dev-{i}", json={"type": "meter", "site": site})
            r.raise_for_status()


def run_gridos(
    pg: PostgresServer, path: str, bodies: list[bytes], content_type: str, args: argparse.Namespace
) -> dict[str, float]:
    db = migrated_database(pg)
    server = start_gridos(
        workdir("peer"),
        {
            "GRIDOS_DATABASE_URL": pg.url(db),
            "GRIDOS_UNKNOWN_DEVICE": "auto_register",
            "GRIDOS_WORKERS": str(args.workers),
            "GRIDOS_LOG_LEVEL": "WARNING",
            "GRIDOS_DB_POOL_SIZE": str(args.clients),
        },
        start=False,
    ).start(timeout=180)  # a loaded machine can take a while to import and start 2 workers
    try:
        register_devices(server)
        before = pg_bytes(pg.dsn(db))
        # REST takes a bearer token; the line-protocol endpoint gets what InfluxDB clients send.
        scheme = "Bearer" if path.startswith("/api/v1") else "Token"
        headers = {"Authorization": f"{scheme} {server.ingest_token}", "Content-Type": content_type}
        seconds = post_all(server.url, path, headers, bodies, args.clients)
    finally:
        server.stop()
    after = pg_bytes(pg.dsn(db))
    with psycopg.connect(pg.dsn(db)) as c:
        stored = c.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
    pg.drop_database(db)
    return {"seconds": seconds, "bytes": after - before, "rows_stored": stored}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="GridOS worker processes")
    args = ap.parse_args()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=12)
    batches = make_batches(args.samples, args.batch, start)
    lines = sum(len(b) for b in batches)
    total = lines * len(MEASUREMENTS)
    json_bodies = [orjson.dumps(b) for b in batches]
    lp_bodies = line_bodies(batches)

    influx = run_influx(lp_bodies, args.clients, lines)
    with running_postgres(fsync=True) as pg:
        rest = run_gridos(pg, "/api/v1/scada/data", json_bodies, "application/json", args)
        lp = run_gridos(pg, "/api/v2/write?org=bench&bucket=bench&precision=s", lp_bodies, "text/plain", args)
    for name, run in (("rest", rest), ("line_protocol", lp)):
        if run["rows_stored"] != total:
            raise RuntimeError(f"GridOS {name} stored {run['rows_stored']} samples, expected {total}")

    def rate(run: dict[str, float]) -> int:
        return round(total / run["seconds"])

    result = {
        "samples": total,
        "readings": lines,
        "batch_samples": args.batch,
        "clients": args.clients,
        "gridos_workers": args.workers,
        "cpus": os.cpu_count(),
        "influxdb_1_6": {
            "samples_per_s": rate(influx),
            "bytes_per_sample_du": round(influx["du_bytes"] / total, 2),
            "bytes_per_sample_apparent": round(influx["apparent_bytes"] / total, 2),
        },
        "gridos_rest_json": {
            "samples_per_s": rate(rest),
            "bytes_per_sample": round(rest["bytes"] / total, 2),
        },
        "gridos_line_protocol": {
            "samples_per_s": rate(lp),
            "bytes_per_sample": round(lp["bytes"] / total, 2),
        },
        "request_bytes_per_sample": {
            "json": round(sum(map(len, json_bodies)) / total, 2),
            "line_protocol": round(sum(map(len, lp_bodies)) / total, 2),
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
