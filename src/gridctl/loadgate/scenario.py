"""The Locust scenario. Weights follow a control room under load: field devices post small batches most of the
time, operators poll the grid status and alarm list, and open a device's history now and then."""

from __future__ import annotations

import itertools
import os
import random
from datetime import UTC, datetime

from locust import HttpUser, between, task

REQUESTS = ("ingest", "status", "history", "alarms")
SITE = "loadgate"
_counter = itertools.count()


def device_ids(count: int) -> list[str]:
    return [f"{SITE}/meter-{i:03d}" for i in range(count)]


class GridosUser(HttpUser):
    """One client of GridOS. Configured through the environment by `run` (class attributes cannot be passed)."""

    wait_time = between(0.0, 0.02)
    devices: list[str] = []
    batch: int = 10

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {os.environ['GRIDCTL_LOADGATE_TOKEN']}"

    @task(4)
    def ingest(self) -> None:
        n = next(_counter)
        now = datetime.now(UTC)
        items = [
            {
                "device_id": random.choice(self.devices),
                # Distinct timestamps per request so every sample is new work, not a duplicate.
                "timestamp": now.replace(microsecond=(n * self.batch + i) % 1_000_000).isoformat(),
                "voltage": 11000 + (n + i) % 97,
                "current": 400 + (n + i) % 13,
                "frequency": 50.0 + ((n + i) % 7) / 1000,
            }
            for i in range(self.batch)
        ]
        self.client.post("/api/v1/scada/data", json=items, name="ingest")

    @task(3)
    def status(self) -> None:
        self.client.get("/api/v1/scada/status", name="status")

    @task(2)
    def history(self) -> None:
        device = random.choice(self.devices)
        self.client.get("/api/v1/scada/data", params={"device_id": device, "step": "1m"}, name="history")

    @task(2)
    def alarms(self) -> None:
        self.client.get("/api/v1/alarms", name="alarms")
