"""Run the scenario headless in this process and turn Locust's statistics into a LoadReport."""

from __future__ import annotations

import os
import time

import httpx

from gridctl.loadgate.thresholds import LoadReport, Thresholds, evaluate


class LoadGateError(Exception):
    """The run could not start (GridOS unreachable, devices could not be registered)."""


def register_devices(url: str, token: str, count: int) -> list[str]:
    """Creates the scenario's meters (site `loadgate`) where they do not exist yet: for previews and
    benchmarks, which start from an empty database. Needs an admin token."""
    from gridctl.loadgate.scenario import SITE, device_ids

    ids = device_ids(count)
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for device_id in ids:
            body = {"id": device_id, "type": "meter", "site": SITE, "expected_interval_s": 1}
            try:
                r = client.post("/api/v1/devices", json=body)
            except httpx.HTTPError as exc:
                raise LoadGateError(f"cannot reach {url}: {exc}") from None
            if r.status_code not in (201, 409):
                raise LoadGateError(f"registering {device_id}: HTTP {r.status_code} {r.text[:200]}")
    return ids


def run(
    url: str,
    token: str,
    *,
    users: int,
    duration_s: float,
    devices: list[str],
    thresholds: Thresholds,
    spawn_rate: float | None = None,
    batch: int = 10,
) -> LoadReport:
    import gevent
    from locust.env import Environment

    from gridctl.loadgate.scenario import REQUESTS, GridosUser

    os.environ["GRIDCTL_LOADGATE_TOKEN"] = token
    GridosUser.devices = devices
    GridosUser.batch = batch
    env = Environment(user_classes=[GridosUser], host=url.rstrip("/"))
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=spawn_rate or users)
    started = time.monotonic()
    gevent.sleep(duration_s)
    elapsed = time.monotonic() - started
    runner.quit()
    total = env.stats.total
    per_request = {
        entry.name: {
            "requests": entry.num_requests,
            "failures": entry.num_failures,
            "rps": round(entry.num_requests / elapsed, 1),
            "p95_ms": float(entry.get_response_time_percentile(0.95) or 0),
        }
        for entry in env.stats.entries.values()
    }
    report = LoadReport(
        duration_s=round(elapsed, 1),
        users=users,
        requests=total.num_requests,
        failures=total.num_failures,
        rps=round(total.num_requests / elapsed, 1) if elapsed else 0.0,
        p95_ms=float(total.get_response_time_percentile(0.95) or 0),
        p50_ms=float(total.get_response_time_percentile(0.50) or 0),
        per_request=per_request,
    )
    return evaluate(report, thresholds, REQUESTS)
