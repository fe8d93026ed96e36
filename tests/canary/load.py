"""Realistic, bounded load at a GridOS process: telemetry ingest, reads and status, from a few threads."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.support.servers import GridosServer


@dataclass
class Load:
    """Drive `threads` clients at `server` until stopped or `max_seconds` pass; at most `max_requests`."""

    server: GridosServer
    threads: int = 3
    pause: float = 0.02
    max_seconds: float = 240.0
    max_requests: int = 50_000
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _worker(self, index: int) -> None:
        deadline = time.monotonic() + self.max_seconds
        headers = {"Authorization": f"Bearer {self.server.admin_token}"}
        device = f"canary/tx-{index}"
        with httpx.Client(base_url=self.server.url, headers=headers, timeout=10) as client:
            for n in itertools.count():
                if self._stop.is_set() or time.monotonic() > deadline or self.requests >= self.max_requests:
                    return
                kind = n % 4
                try:
                    if kind in (0, 1):
                        r = client.post(
                            "/api/v1/scada/data",
                            json={"device_id": device, "voltage": 230 + n % 5, "current": 10 + n % 3},
                        )
                    elif kind == 2:
                        r = client.get("/api/v1/devices")
                    else:
                        r = client.get("/api/v1/scada/status")
                    status = r.status_code
                except httpx.HTTPError:
                    status = 0
                with self._lock:
                    self.requests += 1
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                time.sleep(self.pause)

    def start(self) -> Load:
        for i in range(self.threads):
            t = threading.Thread(target=self._worker, args=(i,), daemon=True)
            t.start()
            self._workers.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._workers:
            t.join(15)
