"""Issue 16, item 4: rule ranges are validated where rules enter (API and YAML file), and one bad rule
cannot silence the alarms of any other device."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from gridos.alarms.rules import RulesFileError, load_rules_file
from gridos.alarms.tables import alarm_rules
from tests.alarms.conftest import active
from tests.conftest import Tokens

BAD = "lab/meter-bad"
GOOD = "lab/meter-good"
RULE = {
    "device_id": BAD,
    "measurement": "voltage",
    "limits": {"h": {"value": 240, "priority": "medium"}},
}


@pytest.fixture
def two_meters(aclient: TestClient) -> TestClient:
    for device in (BAD, GOOD):
        r = aclient.put(
            f"/api/v1/devices/{device}",
            json={"type": "meter", "site": "lab", "nominal_voltage": 230, "expected_interval_s": 60},
        )
        assert r.status_code == 201, r.text
    return aclient


@pytest.mark.parametrize(
    "change, field",
    [
        ({"off_delay_s": 1e303}, "off_delay_s"),
        ({"on_delay_s": 1e303}, "on_delay_s"),
        ({"on_delay_s": 8 * 86400}, "on_delay_s"),
        ({"realarm_s": 1e300}, "realarm_s"),
        ({"limits": {"h": {"value": 1e300, "priority": "high"}}}, "limits.h.value"),
        ({"limits": {"h": {"value": 240, "priority": "high", "deadband": 1e300}}}, "limits.h.deadband"),
    ],
)
def test_out_of_range_rule_is_422_naming_the_field(
    two_meters: TestClient, change: dict[str, Any], field: str
) -> None:
    r = two_meters.post("/api/v1/alarm-rules", json=RULE | change)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in r.json()["errors"]}, r.json()
    assert two_meters.get("/api/v1/alarm-rules").json() == []
    # The same on update.
    created = two_meters.post("/api/v1/alarm-rules", json=RULE)
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    body = {k: v for k, v in (RULE | change).items() if k not in ("device_id", "measurement")}
    r = two_meters.put(f"/api/v1/alarm-rules/{rule_id}", json=body)
    assert r.status_code == 422 and field in {e["field"] for e in r.json()["errors"]}


def test_out_of_range_rule_in_the_yaml_file_names_rule_and_field(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {device_id: a/b, measurement: voltage, limits: {h: {value: 240, priority: low}}}\n"
        "  - {device_id: a/c, measurement: voltage, off_delay_s: 1e303,\n"
        "     limits: {h: {value: 240, priority: low}}}\n"
    )
    with pytest.raises(RulesFileError, match=r"rules\[1\]\.off_delay_s: Input should be less than or equal"):
        load_rules_file(path, {"voltage"})


def _overvoltage_batch(tokens: Tokens, client: TestClient) -> None:
    t = time.time() - 30
    r = client.post(
        "/api/v1/scada/data",
        json=[
            {"device_id": BAD, "voltage": 231, "timestamp": t},
            {"device_id": GOOD, "voltage": 300, "timestamp": t},
        ],
        headers=tokens.header("ingest"),
    )
    assert r.status_code == 200, r.text


def test_rule_stored_before_validation_silences_only_its_own_series(
    two_meters: TestClient, tokens: Tokens
) -> None:
    """The issue's scenario: a rule with off_delay_s 1e303 (accepted before this fix, so written straight
    into the table here) and a device with no rule at 300 V on 230 V nominal in the same batch."""
    app: Any = two_meters.app
    with app.state.services.engine.begin() as conn:
        now = int(time.time() * 1e6)
        conn.execute(
            insert(alarm_rules).values(
                device_id=BAD,
                measurement="voltage",
                limits={"h": {"value": 240, "priority": "medium", "deadband": 0}},
                on_delay_s=0,
                off_delay_s=1e303,
                realarm_s=None,
                latching=False,
                enabled=True,
                description=None,
                source="api",
                created_us=now,
                updated_us=now,
                updated_by="admin",
            )
        )
    app.state.services.alarms.reload_rules()
    _overvoltage_batch(tokens, two_meters)
    raised = {(a["device_id"], a["condition"]) for a in active(two_meters)}
    assert raised == {(GOOD, "hh"), (GOOD, "h")}
    # The stored rule is readable (shown disabled, saying why) and can be fixed through the API.
    (rule,) = two_meters.get("/api/v1/alarm-rules").json()
    assert rule["enabled"] is False and "off_delay_s" in rule["description"]
    fixed = {"limits": {"h": {"value": 240, "priority": "medium"}}, "off_delay_s": 5}
    assert two_meters.put(f"/api/v1/alarm-rules/{rule['id']}", json=fixed).status_code == 200


def test_a_series_that_fails_to_evaluate_does_not_stop_the_batch(
    two_meters: TestClient, tokens: Tokens
) -> None:
    """Whatever goes wrong evaluating one series (here the in-memory rule the old code held for
    off_delay_s 1e303, whose round(inf) raised), the other series of the batch are evaluated."""
    from gridos.alarms.rules import LimitIn, Rule

    app: Any = two_meters.app
    service = app.state.services.alarms
    broken = Rule.model_construct(
        id=999,
        device_id=BAD,
        measurement="voltage",
        limits={"h": LimitIn(value=230.5, priority="medium")},
        on_delay_s=0.0,
        off_delay_s=1e303,
        realarm_s=None,
        latching=False,
        enabled=True,
    )
    errors = service.errors
    with service.cache.lock:
        service.cache.rules[(BAD, "voltage")] = broken
        service.cache.specs_by_series.clear()
        service.cache.guards.clear()
    _overvoltage_batch(tokens, two_meters)
    raised = {(a["device_id"], a["condition"]) for a in active(two_meters)}
    assert raised == {(GOOD, "hh"), (GOOD, "h")}
    assert service.errors > errors
