"""Flood, chattering and communication-failure alarms through the running app (both backends)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.alarms.conftest import DEVICE, Feed, active
from tests.conftest import Tokens


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def metric(client: TestClient, name: str) -> float | None:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_flood_after_more_than_ten_new_alarms_and_chattering(aclient: TestClient, feed: Feed) -> None:
    for _ in range(5):  # 10 activations (h and hh of current, 5 times): not yet a flood
        feed.send(current=500)
        feed.send(current=300)
    flood = aclient.get("/api/v1/alarms/flood").json()
    assert flood == {"active": False, "count": 10, "threshold": 10, "window_s": 600.0}
    feed.send(current=450)  # the 11th
    body = aclient.get("/api/v1/alarms").json()
    assert body["flood"]["active"] is True and body["flood"]["count"] == 11
    # 3 or more activations within a minute of sample time: each of the two alarms is chattering.
    assert {a["condition"]: a["chattering"] for a in body["items"]} == {"h": True, "hh": True}
    assert eventually(lambda: metric(aclient, "gridos_alarm_flood") == 1.0)
    assert eventually(lambda: metric(aclient, "gridos_alarm_chattering") == 2.0)
    assert eventually(
        lambda: (
            metric(aclient, 'gridos_active_alarms{priority="medium",state="active_unacked"}') == 1.0
            and metric(aclient, 'gridos_active_alarms{priority="high",state="cleared_unacked"}') == 1.0
        )
    )
    assert (metric(aclient, 'gridos_alarm_transitions_total{to_state="active_unacked"}') or 0) >= 11


def test_stale_device_raises_comm_failure_cleared_when_data_returns(
    aclient: TestClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = "north/rtu-9"
    aclient.put(
        f"/api/v1/devices/{device}", json={"type": "meter", "site": "north", "expected_interval_s": 0.3}
    ).raise_for_status()
    aclient.app.state.services.alarms.reload_devices()  # type: ignore[attr-defined]
    feed = Feed(aclient, tokens, device)
    feed.send(voltage=230)
    # 3 x 0.3 s without a sample: communication failure.
    (alarm,) = eventually(lambda: active(aclient, device_id=device))
    assert (alarm["measurement"], alarm["condition"], alarm["priority"]) == ("communication", "comm", "high")
    assert alarm["state"] == "active_unacked" and "no sample for" in alarm["message"]
    feed.send(voltage=231)
    (cleared,) = active(aclient, device_id=device)
    assert cleared["state"] == "cleared_unacked" and cleared["condition_active"] is False


def test_connector_interface_raises_and_clears_the_same_alarm(aclient: TestClient) -> None:
    alarms = aclient.app.state.services.alarms  # type: ignore[attr-defined]
    alarms.comm_failure(DEVICE, "modbus: connection refused")
    alarms.comm_failure(DEVICE, "modbus: connection refused")  # idempotent
    (alarm,) = active(aclient)
    assert alarm["condition"] == "comm" and alarm["message"] == "modbus: connection refused"
    alarms.comm_restored(DEVICE)
    alarms.comm_restored(DEVICE)
    (alarm,) = active(aclient)
    assert alarm["state"] == "cleared_unacked"
    events = aclient.get("/api/v1/alarms/history", params={"alarm_id": alarm["id"]}).json()["items"]
    assert [(e["action"], e["actor"]) for e in reversed(events)] == [
        ("activate", "connector"),
        ("clear", "connector"),
    ]
