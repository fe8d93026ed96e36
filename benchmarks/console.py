"""Operator console benchmark: does a control room of 20 open consoles slow ingest down? (issue 12: by less
than 5 %). docs/benchmarks.md has the result.

GridOS as `make demo` runs it (`gridos serve`, embedded SQLite, the demo fleet's 58 devices registered with
their topology). Two client threads post the fleet's readings back to back (one batch = one reading of
every device, ~330 samples, each batch a new timestamp) and count committed samples per second. Phases
alternate without and with 20 consoles, so drift of the shared machine hits both alike.

A console here is what the page does over HTTP (gridos/web/static/js/app.js): GET /api/v1/me,
/api/v1/devices and /api/v1/alarms, then hold GET /api/v1/live open and parse every event (alarm
transitions carry the alarm, so the list is updated in place; only an `overflow` reloads it). The consoles
run in a separate process, so their parsing does not compete with the load generator for this one's GIL.
Real Chromium pages would measure the browser's rendering on the same two cores, not the server;
tests/console/test_browser.py covers the page.

    uv run python -m benchmarks.console [--consoles 20] [--phase-seconds 20] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from benchmarks.common import workdir
from gridos.simulator.fleet import FleetSimulator, register_fleet
from tests.support.servers import GridosServer, start_gridos


class Console(threading.Thread):
    def __init__(self, url: str, token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.url, self.token, self.stop = url, token, stop
        self.events = 0
        self.requests = 0
        self.error: str | None = None
        self.streaming = False

    def run(self) -> None:
        try:
            self.console()
        except Exception as exc:
            self.error = repr(exc)

    def console(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        with httpx.Client(base_url=self.url, headers=headers, timeout=30) as c:
            for path in ("/api/v1/me", "/api/v1/devices?limit=10000", "/api/v1/alarms?limit=5000"):
                c.get(path).raise_for_status()
                self.requests += 1
            reload_at: float | None = None
            with c.stream("GET", "/api/v1/live", timeout=httpx.Timeout(30, read=10)) as r:
                r.raise_for_status()
                self.requests += 1
                self.streaming = True
                kind = ""
                for line in r.iter_lines():
                    if self.stop.is_set():
                        return
                    if line.startswith("event: "):
                        kind = line[7:]
                    elif line.startswith("data: "):
                        orjson.loads(line[6:])
                        self.events += 1
                        if kind == "overflow" and reload_at is None:
                            reload_at = time.monotonic() + 0.25
                    if reload_at is not None and time.monotonic() >= reload_at:
                        c.get("/api/v1/alarms?limit=5000").raise_for_status()
                        self.requests += 1
                        reload_at = None


def run_consoles(url: str, token: str, commands: Any, out: Any) -> None:
    """Child process, alive for the whole run (imports cost seconds of CPU): "open" n consoles and report
    once every one is streaming; "close" them and report (events, requests, errors); "exit"."""
    consoles: list[Console] = []
    stop = threading.Event()
    while True:
        command, n = commands.get()
        if command == "open":
            stop = threading.Event()
            consoles = [Console(url, token, stop) for _ in range(n)]
            for console in consoles:
                console.start()
            deadline = time.monotonic() + 60
            while not all(c.streaming or c.error for c in consoles) and time.monotonic() < deadline:
                time.sleep(0.05)
            out.put("ready")
        elif command == "close":
            stop.set()
            for console in consoles:
                console.join(15)
            errors = sorted({c.error for c in consoles if c.error})
            out.put((sum(c.events for c in consoles), sum(c.requests for c in consoles), errors))
        else:
            return


def cpu_seconds(pid: int) -> float:
    """utime + stime of the GridOS process: what the server spent, whatever the neighbours do."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def ingest_phase(server: GridosServer, seconds: float, seq: list[int]) -> tuple[float, float, float]:
    """Samples committed per second by two back-to-back posting threads, the server's CPU milliseconds
    per 1,000 samples, and its CPU milliseconds per second of the phase."""
    stored = [0, 0]
    stop = time.monotonic() + seconds
    base = datetime.now(UTC) - timedelta(hours=2)

    def worker(i: int) -> None:
        sim = FleetSimulator(seed=i)
        with httpx.Client(base_url=server.url, timeout=60) as c:
            headers = {"Authorization": f"Bearer {server.ingest_token}", "Content-Type": "application/json"}
            while time.monotonic() < stop:
                with lock:
                    seq[0] += 1
                    n = seq[0]
                batch = sim.tick(base + timedelta(milliseconds=n))
                r = c.post("/api/v1/scada/data", content=orjson.dumps(batch), headers=headers)
                r.raise_for_status()
                stored[i] += r.json()["stored"]

    lock = threading.Lock()
    assert server.proc is not None
    cpu = cpu_seconds(server.proc.pid)
    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    used = cpu_seconds(server.proc.pid) - cpu
    return sum(stored) / elapsed, used * 1000 / (sum(stored) / 1000), used * 1000 / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--consoles", type=int, default=20)
    parser.add_argument("--phase-seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    tmp = workdir("console")
    for old in tmp.glob("gridos.db*"):
        old.unlink()
    server = start_gridos(tmp, env={"GRIDOS_LOG_LEVEL": "warning"})
    try:
        sim = FleetSimulator()
        with httpx.Client(base_url=server.url, timeout=30) as c:
            register_fleet(c, sim.fleet, server.admin_token, 10.0)
        ctx = multiprocessing.get_context("spawn")
        commands, out = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=run_consoles, args=(server.url, server.admin_token, commands, out))
        child.start()
        seq = [0]
        ingest_phase(server, 3, seq)  # warm-up
        without: list[tuple[float, float, float]] = []
        with_consoles: list[tuple[float, float, float]] = []
        events = requests = 0
        for _ in range(args.rounds):
            without.append(ingest_phase(server, args.phase_seconds, seq))
            commands.put(("open", args.consoles))
            if out.get(timeout=120) != "ready":
                raise RuntimeError("consoles did not connect")
            with_consoles.append(ingest_phase(server, args.phase_seconds, seq))
            commands.put(("close", 0))
            got_events, got_requests, errors = out.get(timeout=60)
            if errors:
                raise RuntimeError(f"consoles failed: {errors}")
            events += got_events
            requests += got_requests
            time.sleep(3)  # streams end at their next heartbeat
        commands.put(("exit", 0))
        child.join(10)
        base = statistics.fmean(x[0] for x in without)
        loaded = statistics.fmean(x[0] for x in with_consoles)
        cpu_base = statistics.fmean(x[1] for x in without)
        cpu_loaded = statistics.fmean(x[1] for x in with_consoles)
        # What the consoles cost the server per second, beyond the ingest it did in the same phase (at the
        # CPU per sample of the phases without): on a server whose ingest is CPU-bound, this share of a
        # core is the throughput it loses.
        overhead = statistics.fmean(cpu_s - rate * cpu_base / 1000 for rate, _, cpu_s in with_consoles)
        result = {
            "consoles": args.consoles,
            "phase_seconds": args.phase_seconds,
            "rounds": args.rounds,
            "samples_per_s_without": [round(x[0]) for x in without],
            "samples_per_s_with": [round(x[0]) for x in with_consoles],
            "mean_without": round(base),
            "mean_with": round(loaded),
            "throughput_change_percent": round((loaded - base) / base * 100, 2),
            "server_cpu_ms_per_1k_samples_without": round(cpu_base, 2),
            "server_cpu_ms_per_1k_samples_with": round(cpu_loaded, 2),
            "server_cpu_change_percent": round((cpu_loaded - cpu_base) / cpu_base * 100, 2),
            "server_cpu_ms_per_s_without": [round(x[2]) for x in without],
            "server_cpu_ms_per_s_with": [round(x[2]) for x in with_consoles],
            "console_overhead_cpu_ms_per_s": round(overhead, 1),
            "console_events_received": events,
            "console_requests": requests,
        }
        print(json.dumps(result, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
