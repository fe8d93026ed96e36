"""IEC 60870-5-104 ingest benchmark: points/s from RTU to committed row, from one outstation and from 20.

Everything is real: c104 outstations (this process) report time-tagged short floats (M_ME_TF_1) as
spontaneous batches to a GridOS process (its IEC 104 client, one connection per outstation) that commits
them to PostgreSQL with fsync on. Each outstation serves `--points` points (5 measurements on points/5
devices); a "scan" sets every point to a new value with a new time tag (1 ms apart, so no sample is a
duplicate) and transmits them in as few ASDUs as c104 packs them. The clock starts at the first transmit
and stops when GridOS's `gridos_samples_ingested_total{source="iec104"}` has grown by the total. The
outstations run in this process and share the machine's CPUs with GridOS and PostgreSQL, as they would not
in the field: the figure is a floor.

    uv run python -m benchmarks.iec104 [--samples 200000] [--outstations 20] [--points 100]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import c104
import httpx
from ruamel.yaml import YAML

from benchmarks.common import migrated_database, workdir
from benchmarks.mqtt import committed
from tests.support.postgres import free_port, running_postgres
from tests.support.servers import start_gridos

MEASUREMENTS = ("voltage", "current", "frequency", "temperature", "active_power")


class BenchOutstation:
    def __init__(self, index: int, points: int) -> None:
        self.index = index
        self.port = free_port()
        self.server = c104.Server(ip="127.0.0.1", port=self.port, tick_rate_ms=50)
        station = self.server.add_station(common_address=1)
        assert station is not None
        self.points = []
        for ioa in range(points):
            p = station.add_point(io_address=1000 + ioa, type=c104.Type.M_ME_TF_1)
            assert p is not None
            p.value = 1.0
            self.points.append(p)
        self.sent = 0
        self.retries = 0

    def point_map(self) -> dict[str, Any]:
        points = [
            {
                "ioa": 1000 + i,
                "type": "M_ME_TF_1",
                "device_id": f"bench/rtu{self.index}-d{i // len(MEASUREMENTS)}",
                "measurement": MEASUREMENTS[i % len(MEASUREMENTS)],
            }
            for i in range(len(self.points))
        ]
        return {"name": f"rtu{self.index}", "host": "127.0.0.1", "port": self.port, "points": points}

    def send(self, scans: int, start: datetime, acked: dict[str, int], window: int) -> None:
        """`scans` times: every point gets a new value and time tag, transmitted as one batch. At most
        `window` points ahead of what GridOS has received from this link: c104's outstation queue drops
        the oldest events when it overflows, where an RTU's event buffer would hold them back."""
        name = f"rtu{self.index}"
        for scan in range(scans):
            while self.sent - acked.get(name, 0) > window:
                time.sleep(0.002)
            at = start + timedelta(milliseconds=scan)
            for i, p in enumerate(self.points):
                p.info = c104.ShortInfo(actual=100.0 + (scan + i) % 50, recorded_at=at)
            batch = c104.Batch(cause=c104.Cot.SPONTANEOUS, points=self.points)
            while not self.server.transmit_batch(batch):  # the send queue is full: the link sets the pace
                self.retries += 1
                time.sleep(0.001)
            self.sent += len(self.points)


def iec104_check(http: httpx.Client, url: str) -> dict[str, Any] | None:
    """checks.iec104 of /health/ready, or None when GridOS is too busy to answer in time."""
    try:
        check: dict[str, Any] = http.get(f"{url}/health/ready", timeout=30).json()["checks"]["iec104"]
    except httpx.HTTPError:
        return None
    return check


class LinkMonitor:
    """Polls GridOS's /health/ready: how many values each link has received so far."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                check = iec104_check(http, self.url)
                if check is not None:
                    self.received = {name: int(link["received"]) for name, link in check["links"].items()}
                self._stop.wait(0.05)

    def __enter__(self) -> LinkMonitor:
        self._thread.start()
        while not self.received:
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)


def run(
    outstations: list[BenchOutstation], url: str, scans: int, start: datetime, window: int
) -> dict[str, float]:
    for o in outstations:
        o.sent = 0
    target = committed(url, "iec104") + scans * sum(len(o.points) for o in outstations)
    with LinkMonitor(url) as monitor:
        snapshot = dict(monitor.received)
        began = time.perf_counter()
        threads = [
            threading.Thread(target=o.send, args=(scans, start, _Relative(monitor, snapshot), window))
            for o in outstations
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sent_s = time.perf_counter() - began
        deadline = time.monotonic() + 300
        while committed(url, "iec104") < target:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {committed(url, 'iec104'):.0f} of {target:.0f} samples committed")
            time.sleep(0.05)
        elapsed = time.perf_counter() - began
    total = scans * sum(len(o.points) for o in outstations)
    return {
        "outstations": len(outstations),
        "samples": total,
        "seconds": round(elapsed, 2),
        "points_per_s": round(total / elapsed),
        "outstation_send_s": round(sent_s, 2),
    }


class _Relative(dict[str, int]):
    """The monitor's received counts minus those at the start of the run (a live view for the senders)."""

    def __init__(self, monitor: LinkMonitor, snapshot: dict[str, int]) -> None:
        super().__init__()
        self.monitor, self.snapshot = monitor, snapshot

    def get(self, key: str, default: Any = 0) -> Any:
        return self.monitor.received.get(key, default) - self.snapshot.get(key, 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=200_000, help="per run (one outstation, then all)")
    ap.add_argument("--outstations", type=int, default=20)
    ap.add_argument("--points", type=int, default=100, help="points per outstation (a multiple of 5)")
    ap.add_argument("--window", type=int, default=500, help="points a sender may be ahead of GridOS")
    args = ap.parse_args()
    work = workdir("iec104")
    fleet = [BenchOutstation(i, args.points) for i in range(args.outstations)]
    for o in fleet:
        o.server.start()
    point_map = Path(work / "iec104-bench.yaml")
    with point_map.open("w") as f:
        YAML().dump({"links": [o.point_map() for o in fleet]}, f)
    results = []
    with running_postgres(fsync=True) as pg:
        db = migrated_database(pg)
        server = start_gridos(
            work,
            {
                "GRIDOS_DATABASE_URL": pg.url(db),
                "GRIDOS_UNKNOWN_DEVICE": "auto_register",
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_IEC104_ENABLED": "true",
                "GRIDOS_IEC104_POINT_MAP": str(point_map),
            },
            start=False,
        ).start(timeout=120)
        try:
            deadline = time.monotonic() + 120
            with httpx.Client() as http:
                while True:  # every link connected and its first interrogation committed
                    links = iec104_check(http, server.url)
                    if links and links["links_ok"] == len(fleet) and links["pending_samples"] == 0:
                        break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"links not up: {links}")
                    time.sleep(0.2)
            print("links up; sending", file=sys.stderr, flush=True)
            base = datetime.now(UTC) - timedelta(hours=6)
            one_scans = args.samples // args.points
            results.append(run(fleet[:1], server.url, one_scans, base, args.window))
            print(results[-1], file=sys.stderr, flush=True)
            all_scans = max(1, args.samples // (args.points * len(fleet)))
            results.append(run(fleet, server.url, all_scans, base + timedelta(hours=1), args.window))
            with httpx.Client() as http:
                health = iec104_check(http, server.url) or {"dropped_samples": "unknown"}
        finally:
            server.stop()
            for o in fleet:
                o.server.stop()
    print(
        json.dumps(
            {
                "runs": results,
                "points_per_outstation": args.points,
                "asdu_type": "M_ME_TF_1 (short float, CP56Time2a)",
                "dropped_samples": health["dropped_samples"],
                "transmit_retries": sum(o.retries for o in fleet),
                "gridos_workers": 1,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
