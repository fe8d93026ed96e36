"""The demo shows a healthy grid: the simulated fleet, run for a simulated evening peak through the real
ingest and alarm engine, raises only a few explainable alarms (no power-factor chatter, no site-wide sag
flood), and the README's own POST example raises none."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gridos.app import create_app
from gridos.simulator.fleet import (
    HOT_EPISODES_PER_HOUR,
    SAGS_PER_HOUR,
    FleetSimulator,
    build_fleet,
    register_in_process,
)
from tests.conftest import Tokens
from tests.support.clock import past

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = 10.0


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_evening_peak_of_the_demo_fleet_raises_few_explainable_alarms(
    monkeypatch: pytest.MonkeyPatch, make_settings, tokens: Tokens
) -> None:
    # Samples are sent for a past hour as fast as the engine takes them: no wall-clock staleness checks.
    app = create_app(make_settings(alarms={"comm_check_seconds": 3600}))
    sim = FleetSimulator(seed=16, interval=INTERVAL)
    # Yesterday 18:30-19:30 UTC: the daily peak of load, the lowest voltage and power factor.
    start = past(days=1, align=timedelta(days=1)) + timedelta(hours=18, minutes=30)
    ticks = int(3600 / INTERVAL)
    with TestClient(app, headers=tokens.header("admin")) as c:
        register_in_process(app.state.services.registry, sim.fleet, INTERVAL)
        per_post = 6  # a minute of readings per request: the same samples, fewer commits
        for first in range(0, ticks, per_post):
            batch = [
                item
                for i in range(first, first + per_post)
                for item in sim.tick(start + timedelta(seconds=i * INTERVAL))
            ]
            r = c.post("/api/v1/scada/data", json=batch)
            assert r.status_code == 200, r.text
        history = c.get("/api/v1/alarms/history", params={"limit": 10_000}).json()["items"]
    raised = [e for e in history if e["action"] == "activate"]
    by_kind = Counter((e["measurement"], e["condition"]) for e in raised)
    # Expected: ~2 sags (one low-voltage alarm each) and maybe one warm transformer in the hour.
    assert len(raised) <= 3 * (SAGS_PER_HOUR + HOT_EPISODES_PER_HOUR) + 1, by_kind
    allowed = {("voltage", "l"), ("temperature", "h")}
    assert set(by_kind) <= allowed, by_kind
    # No chattering: no alarm raised twice within the hour.
    assert (
        max(Counter((e["device_id"], e["measurement"], e["condition"]) for e in raised).values(), default=0)
        == 1
    )


def test_sags_hit_one_device_at_a_time_and_power_factor_stays_clear() -> None:
    """Six simulated hours around the peak, checked against the default limits directly."""
    sim = FleetSimulator(seed=3, interval=INTERVAL)
    nominal = {d.id: d.nominal_voltage for d in sim.fleet}
    rated = {d.id: d.rated_current for d in sim.fleet}
    start = past(days=1, align=timedelta(days=1)) + timedelta(hours=15)
    sag_ticks, worst_pf, worst_current = 0, 1.0, 0.0
    for i in range(int(6 * 3600 / INTERVAL)):
        batch = sim.tick(start + timedelta(seconds=i * INTERVAL))
        low = [
            item["device_id"]
            for item in batch
            if "voltage" in item and item["voltage"] < 0.95 * nominal[item["device_id"]]
        ]
        assert len(low) <= 1, low
        assert all(item["voltage"] > 0.90 * nominal[item["device_id"]] for item in batch if "voltage" in item)
        sag_ticks += bool(low)
        worst_pf = min([worst_pf, *(item["power_factor"] for item in batch if "power_factor" in item)])
        worst_current = max(
            [
                worst_current,
                *(item["current"] / rated[item["device_id"]] for item in batch if item.get("current")),
            ]
        )
    assert worst_pf >= 0.93  # the default low limit is 0.90 with a 0.01 deadband
    assert worst_current < 0.95  # the high limit is 100% of the rating
    assert 0 < sag_ticks < 0.01 * 6 * 3600 / INTERVAL  # sags happen, rarely


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_readme_post_example_raises_no_alarm_on_the_demo_fleet(client: TestClient) -> None:
    readme = (ROOT / "README.md").read_text()
    body = re.search(r"-X POST .*?-d '(\{.*?\})'", readme, re.S)
    assert body, "README lost its POST example"
    example = json.loads(body.group(1))
    register_in_process(client.app.state.services.registry, build_fleet(), 2.0)  # type: ignore[attr-defined]
    r = client.post("/api/v1/scada/data", json=example)
    assert r.status_code == 200, r.text
    measurements = len(set(example) - {"device_id", "timestamp", "quality"})
    assert r.json()["accepted"] == measurements  # one sample per measurement, as the README says
    assert client.get("/api/v1/alarms", params={"device_id": example["device_id"]}).json()["items"] == []
