"""Prometheus metrics read from a running GridOS: an in-process TestClient or an httpx client of a process."""

from __future__ import annotations

from typing import Protocol

import httpx
from prometheus_client.parser import text_string_to_metric_families


class Scrapable(Protocol):
    def get(self, url: str) -> httpx.Response: ...


def metric(client: Scrapable, name: str, **labels: str) -> float:
    """The value of the first sample of `name` whose labels include `labels`; 0 when there is none."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0
