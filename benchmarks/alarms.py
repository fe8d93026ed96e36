"""Alarm latency benchmark: from a sample sent to GridOS to its alarm visible in the API and on the SSE
stream, while background ingest runs at half the rate of the ingest benchmark (docs/benchmarks.md).

A durable PostgreSQL (fsync on) and `gridos serve` with 2 worker processes, as in the ingest benchmark.
200 feeders with nominal ratings (so every background sample is checked against the default limits,
none trips) carry the load; 20 probe feeders take turns: one sample at +13.6% of nominal voltage (h and hh
trip), timed from just before the POST until (a) `GET /api/v1/alarms?device_id=` lists it and (b) the
`activate` transition arrives on `GET /api/v1/alarms/stream` (held open on one of the workers; each probe
on a new connection, so about half of them cross workers through PostgreSQL LISTEN/NOTIFY), then one normal
sample clears it.

    uv run python -m benchmarks.alarms [--rate R] [--duration 60] [--probe-interval 0.25] [--env GRIDOS_X=V]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import orjson

from benchmarks.common import migrated_database, summary_ms, workdir
from tests.support.postgres import running_postgres
from tests.support.servers import GridosServer, start_gridos

LOAD_DEVICES = 200
PROBES = 20
NOMINAL = 11000.0
# samples/s: the best REST run of docs/benchmarks.md, "Historian v2, step 5" (2026-11-30)
INGEST_BENCH_RATE = 340_529


def load_device(i: int) -> str:
    """The i-th load feeder, 50 to a site (an id's first part is its site)."""
    return f"site-{i // 50}/feeder-{i}"


def register(server: GridosServer) -> None:
    with server.client() as c:
        for i in range(LOAD_DEVICES):
            c.put(
                f"/api/v1/devices/{load_device(i)}",
                json={
                    "type": "feeder",
                    "site": f"site-{i // 50}",
                    "nominal_voltage": NOMINAL,
                    "rated_current": 600,
                    "nominal_frequency": 50,
                    "expected_interval_s": 1,
                },
            ).raise_for_status()
        for i in range(PROBES):
            c.put(
                f"/api/v1/devices/probe/feeder-{i}",
                json={
                    "type": "feeder",
                    "site": "probe",
                    "nominal_voltage": NOMINAL,
                    "expected_interval_s": 3600,
                },
            ).raise_for_status()


def load_bodies(batch: int, count: int, start: datetime) -> list[bytes]:
    """5 measurements per item, all inside the default limits."""
    per_batch = batch // 5
    bodies = []
    i = 0
    for _ in range(count):
        items = []
        for _ in range(per_batch):
            items.append(
                {
                    "device_id": load_device(i % LOAD_DEVICES),
                    "timestamp": (start + timedelta(seconds=i // LOAD_DEVICES)).isoformat(),
                    "voltage": NOMINAL + i % 97,
                    "current": 400 + i % 13,
                    "power_factor": 0.95,
                    "frequency": 50.0 + (i % 7) / 1000,
                    "active_power": 7000.0 + i % 31,
                }
            )
            i += 1
        bodies.append(orjson.dumps(items))
    return bodies


class Load:
    def __init__(self, server: GridosServer, rate: float, batch: int, clients: int, duration: float) -> None:
        self.server, self.rate, self.batch, self.clients = server, rate, batch, clients
        n = int(rate * duration / batch) + clients
        # Each data second holds LOAD_DEVICES items of 5 samples; end the run's data an hour before now, so
        # no timestamp of a fast run lands in the future (refused beyond GRIDOS_MAX_FUTURE_SECONDS).
        span = timedelta(seconds=n * batch / (5 * LOAD_DEVICES))
        self.bodies = load_bodies(batch, n, datetime.now(UTC) - span - timedelta(hours=1))
        self.sent = 0
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,)) for k in range(clients)]
        self.started = 0.0
        self.elapsed = 0.0

    def run(self, k: int) -> None:
        interval = self.batch * self.clients / self.rate
        next_at = time.perf_counter() + k * interval / self.clients
        with httpx.Client(
            base_url=self.server.url,
            headers={
                "Authorization": f"Bearer {self.server.ingest_token}",
                "Content-Type": "application/json",
            },
            timeout=60,
        ) as c:
            for body in self.bodies[k :: self.clients]:
                if self.stop.is_set():
                    return
                time.sleep(max(0.0, next_at - time.perf_counter()))
                next_at += interval
                c.post("/api/v1/scada/data", content=body).raise_for_status()
                self.sent += self.batch

    def __enter__(self) -> Load:
        self.started = time.perf_counter()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()
        self.elapsed = time.perf_counter() - self.started


class StreamListener:
    """Reads the SSE stream; records when each probe device's activation arrived."""

    def __init__(self, server: GridosServer) -> None:
        self.server = server
        self.arrivals: dict[str, list[float]] = {}
        self.cond = threading.Condition()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server stops at the end of the run
            self._read()

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.server.admin_token}"}
        with (
            httpx.Client(base_url=self.server.url, timeout=None) as c,
            c.stream("GET", "/api/v1/alarms/stream", headers=headers) as r,
        ):
            data = None
            for line in r.iter_lines():
                self.ready.set()
                if line.startswith("data: "):
                    data = line[6:]
                elif line == "" and data is not None:
                    event = json.loads(data)
                    data = None
                    if event.get("action") == "activate":
                        now = time.perf_counter()
                        with self.cond:
                            self.arrivals.setdefault(event["device_id"], []).append(now)
                            self.cond.notify_all()

    def wait(self, device: str, after: float, timeout: float = 10.0) -> float | None:
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                hits = [t for t in self.arrivals.get(device, []) if t >= after]
                if hits:
                    return min(hits)
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return None
                self.cond.wait(remaining)


def probe(server: GridosServer, listener: StreamListener, n: int, interval: float) -> dict[str, list[float]]:
    api, sse, posted, missed = [], [], [], 0
    with server.client(server.ingest_token) as ingest, server.client() as reader:
        for k in range(n):
            device = f"probe/feeder-{k % PROBES}"
            ts = datetime.now(UTC)
            t0 = time.perf_counter()
            # A new connection per probe: a kept-alive one would send every probe to the same worker, and a
            # whole run would measure either only same-worker or only cross-worker deliveries.
            ingest.post(
                "/api/v1/scada/data",
                json={"device_id": device, "timestamp": ts.isoformat(), "voltage": 12500},
                headers={"Connection": "close"},
            ).raise_for_status()
            posted.append(time.perf_counter() - t0)
            while True:
                items = reader.get(
                    "/api/v1/alarms", params={"device_id": device, "state": "active_unacked"}
                ).json()
                if items["items"]:
                    api.append(time.perf_counter() - t0)
                    break
            arrived = listener.wait(device, t0)
            if arrived is None:
                missed += 1
            else:
                sse.append(arrived - t0)
            ingest.post(
                "/api/v1/scada/data",
                json={
                    "device_id": device,
                    "timestamp": (ts + timedelta(milliseconds=1)).isoformat(),
                    "voltage": NOMINAL,
                },
            ).raise_for_status()
            time.sleep(interval)
    return {"api": api, "sse": sse, "post": posted, "missed": [float(missed)]}


def histogram_quantiles(text: str, name: str) -> dict[str, float | int]:
    """Upper bucket bounds holding p50 and p99 of a Prometheus histogram (one worker's registry)."""
    buckets: list[tuple[float, float]] = []
    for line in text.splitlines():
        if line.startswith(f"{name}_bucket{{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float(le), float(line.rsplit(" ", 1)[1])))
    total = buckets[-1][1] if buckets else 0.0
    out: dict[str, float | int] = {"count": int(total)}
    for q in (0.5, 0.99):
        bound = next((le for le, n in buckets if total and n >= q * total), float("nan"))
        out[f"p{round(q * 100)}_le_ms"] = bound * 1000
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=INGEST_BENCH_RATE / 2, help="background samples/s")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of probing")
    ap.add_argument("--probe-interval", type=float, default=0.25)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument(
        "--env", action="append", default=[], metavar="GRIDOS_X=V", help="extra GridOS setting (repeatable)"
    )
    args = ap.parse_args()
    with running_postgres(fsync=True) as pg:
        db = migrated_database(pg)
        server = start_gridos(
            workdir("alarms"),
            {
                "GRIDOS_DATABASE_URL": pg.url(db),
                "GRIDOS_WORKERS": str(args.workers),
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_DB_POOL_SIZE": str(args.clients + 2),
                **dict(item.split("=", 1) for item in args.env),
            },
            start=False,
        ).start(timeout=180)
        try:
            register(server)
            listener = StreamListener(server)
            listener.ready.wait(10)
            n = int(args.duration / (args.probe_interval + 0.02))
            with Load(server, args.rate, args.batch, args.clients, args.duration + 30) as load:
                time.sleep(2)  # let the load settle
                result = probe(server, listener, n, args.probe_interval)
            with server.client() as c:
                flood = c.get("/api/v1/alarms/flood").json()
                # Each worker has its own registry; keep the scrape of the worker that took the probes.
                scrapes = [
                    histogram_quantiles(
                        httpx.get(f"{server.url}/metrics", headers={"Connection": "close"}).text,
                        "gridos_alarm_latency_seconds",
                    )
                    for _ in range(10)
                ]
                server_side = max(scrapes, key=lambda h: h["count"])
        finally:
            server.stop()
    print(
        json.dumps(
            {
                "background_samples_per_s_target": round(args.rate),
                "background_samples_per_s_achieved": round(load.sent / load.elapsed),
                "probes": len(result["api"]),
                "ingest_post_returned": summary_ms(result["post"]),
                "api_visible": summary_ms(result["api"]),
                "sse_delivered": summary_ms(result["sse"]) if result["sse"] else None,
                "sse_missed": int(result["missed"][0]),
                "server_received_to_committed_one_worker": server_side,
                "flood_during_run": flood,
                "gridos_workers": args.workers,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
