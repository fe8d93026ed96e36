"""Load-gate benchmark: the `gridctl loadgate` scenario (ingest, status, history, alarm reads) against one
GridOS on a durable PostgreSQL (fsync on), at increasing numbers of simulated users. Reports, per step,
requests/s, p95 and error rate, and the highest throughput that met the blueprint's latency bar (p95 < 500 ms,
errors < 1 %). Locust and GridOS share this machine's cores, so the number is a floor for a real cluster.

    uv run python -m benchmarks.load [--users 10,25,50] [--duration 20] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks.common import migrated_database, workdir
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", default="10,25,50", help="comma-separated user counts, one step each")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds per step")
    ap.add_argument("--workers", type=int, default=1, help="GRIDOS_WORKERS")
    ap.add_argument("--max-p95-ms", type=float, default=500.0)
    args = ap.parse_args()
    steps = []
    with running_postgres(fsync=True) as pg:
        database = migrated_database(pg)
        server = start_gridos(
            workdir("load"),
            env={
                "GRIDOS_DATABASE_URL": pg.url(database),
                "GRIDOS_WORKERS": str(args.workers),
                "GRIDOS_LOG_LEVEL": "WARNING",
            },
            start=False,
        )
        with server.start(timeout=120):
            env = {**os.environ, "GRIDCTL_TOKEN": server.admin_token}
            for i, users in enumerate(int(u) for u in args.users.split(",")):
                command = [
                    sys.executable, "-m", "gridctl.cli", "loadgate", "--url", server.url,
                    "--users", str(users), "--duration", str(args.duration), "--min-rps", "0",
                    "--max-p95-ms", str(args.max_p95_ms),
                ] + (["--register"] if i == 0 else [])  # fmt: skip
                result = subprocess.run(command, capture_output=True, text=True, env=env)
                report = json.loads(result.stdout)
                step = {
                    "users": users,
                    "rps": report["rps"],
                    "p95_ms": report["p95_ms"],
                    "p50_ms": report["p50_ms"],
                    "error_rate": report["error_rate"],
                    "passed_latency_bar": report["passed"],
                    "per_request_p95_ms": {k: v["p95_ms"] for k, v in report["per_request"].items()},
                }
                steps.append(step)
                print(json.dumps(step), flush=True)
    passing = [s for s in steps if s["passed_latency_bar"]]
    best = max(passing, key=lambda s: s["rps"]) if passing else None
    load = os.getloadavg()
    print(
        json.dumps(
            {
                "rps_at_threshold": best["rps"] if best else None,
                "p95_ms_at_threshold": best["p95_ms"] if best else None,
                "error_rate_at_threshold": best["error_rate"] if best else None,
                "users_at_threshold": best["users"] if best else None,
                "workers": args.workers,
                "cpus": os.cpu_count(),
                "loadavg_1m_after": round(load[0], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
