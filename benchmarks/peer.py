"""Peer benchmark: the workload of benchmarks/ingest.py written, in one run, to InfluxDB 1.6 and to GridOS
on PostgreSQL; samples/s and bytes/sample for each, right after the write (hot) and once the data is old.

The readings are timestamped in one closed UTC day, OLD_DAYS days ago: older than GridOS's archive age
(GRIDOS_ARCHIVE_AFTER_DAYS, 7), within its retention (GRIDOS_RETENTION_DAYS, 30).

- InfluxDB 1.6 (the Debian package's /usr/bin/influxd; benchmarks/influxdb.py), started here from a
  generated config in a temporary directory: free ports, no usage reporting, `wal-fsync-delay = "0s"`
  (every write fsynced before its 204, like GridOS's commit), and cache snapshot / full compaction a few
  seconds after writes stop instead of 10 minutes / 4 hours. Body: one line-protocol line per reading,
  5 fields (`grid,device_id=site-0/dev-1 voltage=11000,current=400,... <seconds>`), POST /write?precision=s.
  Bytes, hot: `du` of its data and wal directories right after the write (and the apparent size); old: the
  same once the WAL is empty and the TSM files have stayed the same for 15 s.
- GridOS (`gridos serve`, 2 workers by default) on a durable PostgreSQL (fsync on) started here, through
  1. REST: the JSON arrays of benchmarks/ingest.py, POST /api/v1/scada/data;
  2. line protocol: the very bodies sent to InfluxDB, POST /api/v2/write?precision=s.
  Each path writes into its own freshly migrated database, so bytes are measured per path: the growth of
  pg_total_relation_size over every table (samples partitions, latest values, rollups, device registry,
  with indexes and TOAST), right after the write. Old: the line-protocol database is archived by the real
  command (`gridos archive`, to a local directory), then: `du` and apparent bytes of its Parquet files,
  what PostgreSQL still holds (the day's partition, and everything the write left), and the history API
  (GET /api/v1/scada/data, raw points of every series over the day) answering the same as before.
The 200 devices are registered before timing starts; 4 client threads post the batches.

    uv run python -m benchmarks.peer [--samples 2000000] [--batch 5000] [--clients 4] [--workers 2]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import psycopg

from benchmarks.common import (
    disk_usage,
    growth_per_sample,
    migrated_database,
    pg_bytes,
    pg_bytes_by_table,
    workdir,
)
from benchmarks.influxdb import Influx, running_influxdb, wait_compacted
from benchmarks.ingest import DEVICES, MEASUREMENTS, make_batches
from gridos.telemetry.store import partition_name
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.servers import GridosServer, gridos_env, run_gridos, start_gridos

ARCHIVE_AFTER_DAYS = 7  # GridOS's default GRIDOS_ARCHIVE_AFTER_DAYS, set explicitly for the run
OLD_DAYS = ARCHIVE_AFTER_DAYS + 3


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


def influx_points(influx: Influx) -> int:
    result = influx.query("SELECT count(voltage) FROM grid", db="bench")
    return int(result["results"][0]["series"][0]["values"][0][1])


def run_influx(bodies: list[bytes], clients: int, lines: int) -> dict:
    with running_influxdb() as influx:
        influx.query("CREATE DATABASE bench")
        seconds = post_all(influx.url, "/write?db=bench&precision=s", {}, bodies, clients)
        hot = disk_usage(influx.data_dir, influx.wal_dir)
        stored = influx_points(influx)
        started = time.perf_counter()
        layout = wait_compacted(influx, "bench")
        settled_s = time.perf_counter() - started
        old = disk_usage(influx.data_dir, influx.wal_dir)
        stored_old = influx_points(influx)
    if stored != lines or stored_old != lines:
        raise RuntimeError(f"InfluxDB holds {stored} then {stored_old} points, expected {lines}")
    return {
        "seconds": seconds,
        "hot": hot,
        "old": old,
        "tsm_bytes": layout.tsm_bytes,
        "tsm_files": layout.tsm_files,
        "settled_after_s": settled_s,
    }


# -- GridOS ------------------------------------------------------------------------------------------


def register_devices(server: GridosServer) -> None:
    with server.client() as c:
        for i in range(DEVICES):
            site = f"site-{i // 50}"
            r = c.put(f"/api/v1/devices/{site}/dev-{i}", json={"type": "meter", "site": site})
            r.raise_for_status()


def history(server: GridosServer, start: datetime, end: datetime) -> dict[tuple[str, str], tuple[int, str]]:
    """(points, SHA-256 of the points) of every series over [start, end), raw, through the history API."""
    params: dict[str, str | int] = {"from": start.isoformat(), "to": end.isoformat(), "limit": 100_000}

    def one(c: httpx.Client, device: str, m: str) -> tuple[int, str]:
        r = c.get("/api/v1/scada/data", params=params | {"device_id": device, "measurement": m})
        r.raise_for_status()
        doc = r.json()
        if doc["truncated"]:
            raise RuntimeError(f"{device} {m}: more than 100,000 points in the day; use fewer samples")
        return len(doc["points"]), hashlib.sha256(orjson.dumps(doc["points"])).hexdigest()

    keys = [(f"site-{i // 50}/dev-{i}", m) for i in range(DEVICES) for m in MEASUREMENTS]
    with server.client() as c, concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda k: one(c, *k), keys))
    return dict(zip(keys, answers, strict=True))


def spot_buckets(server: GridosServer, start: datetime, end: datetime) -> list[list[dict]]:
    """30 s buckets (computed from raw samples, hot or cold) of a few series."""
    out = []
    with server.client() as c:
        for device in ("site-0/dev-0", "site-2/dev-117", "site-3/dev-199"):
            for m in ("voltage", "frequency"):
                params = {"device_id": device, "measurement": m, "step": "30s", "limit": 100_000}
                r = c.get(
                    "/api/v1/scada/data", params=params | {"from": start.isoformat(), "to": end.isoformat()}
                )
                r.raise_for_status()
                out.append(r.json()["buckets"])
    return out


def same_buckets(a: list[dict], b: list[dict]) -> bool:
    """Equal, but for averages in the last bits: DuckDB adds in another order (docs/archive.md)."""
    return len(a) == len(b) and all(
        {k: v for k, v in x.items() if k != "avg"} == {k: v for k, v in y.items() if k != "avg"}
        and abs(x["avg"] - y["avg"]) <= 1e-9 * max(1.0, abs(x["avg"]))
        for x, y in zip(a, b, strict=True)
    )


def partition_bytes_and_rows(dsn: str, day: datetime) -> tuple[int, int]:
    name = partition_name(day.date())
    with psycopg.connect(dsn) as c:
        row = c.execute(f"SELECT pg_total_relation_size('{name}'), (SELECT count(*) FROM {name})").fetchone()
    return int(row[0]), int(row[1])  # type: ignore[index]


def archive_old_day(server: GridosServer, pg: PostgresServer, db: str, day: datetime, total: int) -> dict:
    """`gridos archive` of the day the run wrote, to a local directory, with the history API's answers
    before and after; `server` is stopped and configured to read that directory."""
    end = day + timedelta(days=1)
    server.start(timeout=180)
    try:
        before, buckets_before = history(server, day, end), spot_buckets(server, day, end)
        hot_partition = partition_bytes_and_rows(pg.dsn(db), day)
        started = time.perf_counter()
        done = run_gridos(
            "archive",
            env=gridos_env(
                GRIDOS_DATABASE_URL=pg.url(db),
                GRIDOS_ARCHIVE_LOCATION=server.env["GRIDOS_ARCHIVE_LOCATION"],
                GRIDOS_ARCHIVE_AFTER_DAYS=str(ARCHIVE_AFTER_DAYS),
                GRIDOS_LOG_LEVEL="WARNING",
            ),
            timeout=1800,
        )
        archive_s = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"gridos archive exited {done.returncode}: {done.stderr[-2000:]}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        after, buckets_after = history(server, day, end), spot_buckets(server, day, end)
    finally:
        server.stop()
    cold_partition = partition_bytes_and_rows(pg.dsn(db), day)
    per_device: dict[str, int] = {}
    for (device, _m), (n, _digest) in before.items():
        per_device[device] = per_device.get(device, 0) + n
    if report["rows"] != total or sum(per_device.values()) != total:
        raise RuntimeError(
            f"archived {report['rows']}, history answered {sum(per_device.values())}; expected {total}"
        )
    parquet = disk_usage(Path(server.env["GRIDOS_ARCHIVE_LOCATION"]) / "samples")
    return {
        "archive_report": report,
        "archive_seconds": archive_s,
        "parquet": parquet,
        "partition_before": hot_partition,
        "partition_after": cold_partition,
        "history_identical": before == after,
        "buckets_identical": all(map(same_buckets, buckets_before, buckets_after)),
        "series_checked": len(before),
        "samples_per_device": sorted(set(per_device.values())),
    }


def pg_left(dsn: str, before: int, before_tables: dict[str, tuple[int, int]], samples: int) -> dict:
    """What the write left in PostgreSQL once its day is archived, per sample: as it is, and after
    VACUUM FULL (dead row versions, e.g. of the rollups' upserts before migration 0007, are reused by later
    writes, not returned, so the live size is what an old day keeps costing)."""

    def left() -> dict:
        return {
            "bytes_per_sample": per_sample(pg_bytes(dsn) - before, samples),
            "by_table": growth_per_sample(before_tables, pg_bytes_by_table(dsn), samples),
        }

    as_is = left()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("VACUUM FULL")
    return {"as_is": as_is, "after_vacuum_full": left()}


def run_gridos_path(
    pg: PostgresServer,
    path: str,
    bodies: list[bytes],
    content_type: str,
    args: argparse.Namespace,
    archive_day: datetime | None = None,
) -> dict:
    """One GridOS path into its own database; with `archive_day`, then the old-data phase on that day."""
    db = migrated_database(pg)
    env = {
        "GRIDOS_DATABASE_URL": pg.url(db),
        "GRIDOS_UNKNOWN_DEVICE": "auto_register",
        "GRIDOS_WORKERS": str(args.workers),
        "GRIDOS_LOG_LEVEL": "WARNING",
        "GRIDOS_DB_POOL_SIZE": str(args.clients),
    }
    if archive_day:
        archive_dir = workdir("peer") / f"archive-{db}"
        # The service reads the archive; only `gridos archive`, run below, writes it.
        env |= {
            "GRIDOS_ARCHIVE_LOCATION": str(archive_dir),
            "GRIDOS_ARCHIVE_SCHEDULE": "false",
            "GRIDOS_ARCHIVE_AFTER_DAYS": str(ARCHIVE_AFTER_DAYS),
        }
    server = start_gridos(workdir("peer"), env, start=False)
    server.start(timeout=180)  # a loaded machine can take a while to import and start 2 workers
    try:
        register_devices(server)
        before, before_tables = pg_bytes(pg.dsn(db)), pg_bytes_by_table(pg.dsn(db))
        # REST takes a bearer token; the line-protocol endpoint gets what InfluxDB clients send.
        scheme = "Bearer" if path.startswith("/api/v1") else "Token"
        headers = {"Authorization": f"{scheme} {server.ingest_token}", "Content-Type": content_type}
        seconds = post_all(server.url, path, headers, bodies, args.clients)
    finally:
        server.stop()
    after = pg_bytes(pg.dsn(db))
    with psycopg.connect(pg.dsn(db)) as c:
        stored = c.execute("SELECT count(*) FROM samples").fetchone()[0]  # type: ignore[index]
    result = {"seconds": seconds, "bytes": after - before, "rows_stored": stored}
    if archive_day:
        try:
            result["old"] = archive_old_day(server, pg, db, archive_day, stored)
            result["old"]["pg_left"] = pg_left(pg.dsn(db), before, before_tables, stored)
        finally:
            shutil.rmtree(archive_dir, ignore_errors=True)
    pg.drop_database(db)
    return result


def per_sample(nbytes: int, samples: int) -> float:
    return round(nbytes / samples, 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=2_000_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2, help="GridOS worker processes")
    args = ap.parse_args()
    # One closed day, old enough to be archived: readings one second apart per device from its midnight.
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=OLD_DAYS)
    if args.samples // len(MEASUREMENTS) // DEVICES >= 86_400:
        raise SystemExit("--samples must fit in one day: at most 86,399 s x 200 devices x 5 measurements")
    batches = make_batches(args.samples, args.batch, day)
    lines = sum(len(b) for b in batches)
    total = lines * len(MEASUREMENTS)
    json_bodies = [orjson.dumps(b) for b in batches]
    lp_bodies = line_bodies(batches)

    influx = run_influx(lp_bodies, args.clients, lines)
    with running_postgres(fsync=True) as pg:
        rest = run_gridos_path(pg, "/api/v1/scada/data", json_bodies, "application/json", args)
        lp = run_gridos_path(
            pg, "/api/v2/write?org=bench&bucket=bench&precision=s", lp_bodies, "text/plain", args, day
        )
    for name, run in (("rest", rest), ("line_protocol", lp)):
        if run["rows_stored"] != total:
            raise RuntimeError(f"GridOS {name} stored {run['rows_stored']} samples, expected {total}")

    def rate(run: dict) -> int:
        return round(total / run["seconds"])

    old = lp["old"]
    result = {
        "samples": total,
        "readings": lines,
        "day": day.date().isoformat(),
        "batch_samples": args.batch,
        "clients": args.clients,
        "gridos_workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "influxdb_1_6": {
            "samples_per_s": rate(influx),
            "hot_bytes_per_sample_du": per_sample(influx["hot"][0], total),
            "hot_bytes_per_sample_apparent": per_sample(influx["hot"][1], total),
            "old_bytes_per_sample_du": per_sample(influx["old"][0], total),
            "old_bytes_per_sample_apparent": per_sample(influx["old"][1], total),
            "old_tsm_bytes_per_sample": per_sample(influx["tsm_bytes"], total),
            "old_tsm_files": influx["tsm_files"],
            "settled_after_s": round(influx["settled_after_s"], 1),
        },
        "gridos_rest_json": {
            "samples_per_s": rate(rest),
            "hot_bytes_per_sample": per_sample(rest["bytes"], total),
        },
        "gridos_line_protocol": {
            "samples_per_s": rate(lp),
            "hot_bytes_per_sample": per_sample(lp["bytes"], total),
        },
        "gridos_old": {
            "archived_samples": old["archive_report"]["rows"],
            "parquet_files": old["archive_report"]["files"],
            "archive_seconds": round(old["archive_seconds"], 1),
            "parquet_bytes_per_sample_du": per_sample(old["parquet"][0], total),
            "parquet_bytes_per_sample_apparent": per_sample(old["parquet"][1], total),
            # The day's raw partition (table + indexes) before and after, and its rows.
            "pg_day_partition_bytes_before": old["partition_before"][0],
            "pg_day_partition_bytes_after": old["partition_after"][0],
            "pg_day_partition_rows_after": old["partition_after"][1],
            # Everything the write left in PostgreSQL once the day is archived (rollups, latest values...),
            # bytes per sample.
            "pg_left_per_sample": old["pg_left"],
            "history_series_checked": old["series_checked"],
            "history_samples_per_device": old["samples_per_device"],
            "history_identical_after_archive": old["history_identical"],
            "buckets_30s_identical_after_archive": old["buckets_identical"],
        },
        "request_bytes_per_sample": {
            "json": per_sample(sum(map(len, json_bodies)), total),
            "line_protocol": per_sample(sum(map(len, lp_bodies)), total),
        },
    }
    print(json.dumps(result, indent=2))
    if not (old["history_identical"] and old["buckets_identical"]):
        raise SystemExit("the history API answered differently after archiving")


if __name__ == "__main__":
    main()
