"""Prometheus metrics read from a running GridOS (in-process TestClient)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families


def metric(client: TestClient, name: str, **labels: str) -> float:
    """The value of the first sample of `name` whose labels include `labels`; 0 when there is none."""
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return 0.0
