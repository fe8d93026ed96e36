"""Alarms through the HTTP API on both backends: limits from ratings, lifecycle, rules CRUD and audit."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.alarms.conftest import DEVICE, Feed, active
from tests.support.tokens import Tokens


def test_default_voltage_limits_raise_and_clear_with_ack(
    aclient: TestClient, feed: Feed, tokens: Tokens
) -> None:
    feed.send(voltage=11000)
    assert active(aclient) == []
    feed.send(voltage=11700)  # > +5% of 11 kV (ANSI C84.1 Range A): h, not hh (+10% = 12100)
    items = active(aclient)
    assert [(a["condition"], a["state"], a["priority"]) for a in items] == [("h", "active_unacked", "medium")]
    alarm = items[0]
    assert alarm["device_id"] == DEVICE and alarm["site"] == "north" and alarm["value"] == 11700
    assert alarm["limit"] == 11550

    # Viewer may not acknowledge; operator may, with a comment that lands in the audit trail.
    r = aclient.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=tokens.header("viewer"), json={})
    assert r.status_code == 403
    r = aclient.post(
        f"/api/v1/alarms/{alarm['id']}/ack",
        headers=tokens.header("operator"),
        json={"comment": "tap changer checked", "user": "jdoe"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "active_acked"
    again = aclient.post(f"/api/v1/alarms/{alarm['id']}/ack", headers=tokens.header("operator"))
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"

    feed.send(voltage=11500)  # inside the limit but not past the 1% deadband (11440): stays
    assert [a["state"] for a in active(aclient)] == ["active_acked"]
    feed.send(voltage=11300)  # past the deadband: active-acked -> normal
    assert active(aclient) == []

    history = aclient.get("/api/v1/alarms/history", params={"alarm_id": alarm["id"]}).json()["items"]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in reversed(history)] == [
        ("activate", "normal", "active_unacked"),
        ("ack", "active_unacked", "active_acked"),
        ("clear", "active_acked", "normal"),
    ]
    ack = history[1]
    # The body's `user` is ignored: the journal names who authenticated (a static token: its role).
    assert ack["actor"] == "operator" and ack["comment"] == "tap changer checked"


def test_clear_before_ack_is_cleared_unacked_then_ack_returns_to_normal(
    aclient: TestClient, feed: Feed, tokens: Tokens
) -> None:
    feed.send(voltage=9800)  # < -10%: l and ll
    items = active(aclient)
    assert sorted(a["condition"] for a in items) == ["l", "ll"]
    assert items[0]["condition"] == "ll"  # high before medium
    feed.send(voltage=11000)
    assert {a["state"] for a in active(aclient)} == {"cleared_unacked"}
    for a in active(aclient):
        aclient.post(f"/api/v1/alarms/{a['id']}/ack", headers=tokens.header("operator")).raise_for_status()
    assert active(aclient) == []


def test_filters(aclient: TestClient, feed: Feed) -> None:
    feed.send(voltage=12500, temperature=120)
    assert {a["condition"] for a in active(aclient, priority="critical")} == {"hh"}
    assert {a["measurement"] for a in active(aclient, priority="critical")} == {"temperature"}
    assert len(active(aclient, site="north")) == 4
    assert active(aclient, site="south") == []
    assert len(active(aclient, state="active_unacked", device_id=DEVICE)) == 4
    assert aclient.get("/api/v1/alarms", params={"state": "bogus"}).status_code == 422


def test_shelve_timed_and_unshelve(aclient: TestClient, feed: Feed, tokens: Tokens) -> None:
    feed.send(current=450)
    (alarm,) = active(aclient)
    url = f"/api/v1/alarms/{alarm['id']}"
    too_long = aclient.post(f"{url}/shelve", json={"kind": "timed", "duration_s": 10**6})
    assert too_long.status_code == 422
    r = aclient.post(f"{url}/shelve", json={"kind": "timed", "duration_s": 600, "comment": "sensor work"})
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "shelved" and r.json()["shelved"]["kind"] == "timed"
    r = aclient.post(f"{url}/unshelve", headers=tokens.header("operator"), json={"comment": "done"})
    assert r.json()["state"] == "active_unacked"


def test_admin_suppress_and_out_of_service(aclient: TestClient, feed: Feed, tokens: Tokens) -> None:
    feed.send(current=450)
    (alarm,) = active(aclient)
    url = f"/api/v1/alarms/{alarm['id']}"
    assert aclient.post(f"{url}/suppress", headers=tokens.header("operator")).status_code == 403
    assert aclient.post(f"{url}/suppress").json()["state"] == "suppressed"
    assert aclient.post(f"{url}/remove-from-service").json()["state"] == "out_of_service"
    assert aclient.post(f"{url}/return-to-service").json()["state"] == "suppressed"
    feed.send(current=300)
    assert aclient.post(f"{url}/unsuppress").json()["state"] == "normal"
    assert aclient.get(url).json()["condition_active"] is False


def test_rules_crud_is_audited_and_overrides_defaults(
    aclient: TestClient, feed: Feed, tokens: Tokens
) -> None:
    rule = {
        "device_id": DEVICE,
        "measurement": "voltage",
        "limits": {"h": {"value": 11200, "priority": "critical", "deadband": 50}},
        "on_delay_s": 2,
    }
    assert (
        aclient.post("/api/v1/alarm-rules", json=rule, headers=tokens.header("operator")).status_code == 403
    )
    bad = aclient.post(
        "/api/v1/alarm-rules",
        json=rule
        | {"limits": {"h": {"value": 1, "priority": "high"}, "hh": {"value": 0, "priority": "high"}}},
    )
    assert bad.status_code == 422 and "ordered" in bad.json()["detail"]
    unknown = aclient.post("/api/v1/alarm-rules", json=rule | {"measurement": "humidity"})
    assert unknown.status_code == 422
    r = aclient.post("/api/v1/alarm-rules", json=rule)
    assert r.status_code == 201, r.text
    rule_id = r.json()["id"]
    assert aclient.post("/api/v1/alarm-rules", json=rule).status_code == 409

    eff = aclient.get(f"/api/v1/alarm-rules/effective/{DEVICE}").json()["measurements"]
    assert set(eff["voltage"]["limits"]) == {"h"}
    assert eff["current"]["limits"]["hh"]["source"].startswith("default: 100% (h) and 120% (hh)")
    assert "IEC 60076-7" in eff["temperature"]["limits"]["h"]["source"]

    # On-delay 2 s: one sample above the limit is not an alarm, 2 s of them are.
    feed.send(voltage=11300)
    assert active(aclient) == []
    feed.send(voltage=11300)
    assert active(aclient) == []
    feed.send(voltage=11300)
    assert [a["priority"] for a in active(aclient)] == ["critical"]

    changed = rule | {"limits": {"h": {"value": 11400, "priority": "high"}}}
    del changed["device_id"], changed["measurement"]
    r = aclient.put(f"/api/v1/alarm-rules/{rule_id}", json=changed, params={"comment": "raise limit"})
    assert r.status_code == 200 and r.json()["limits"]["h"]["value"] == 11400
    assert aclient.delete(f"/api/v1/alarm-rules/{rule_id}").status_code == 204
    assert aclient.get(f"/api/v1/alarm-rules/{rule_id}").status_code == 404

    audit = aclient.get("/api/v1/alarm-rules/audit", params={"rule_id": rule_id}).json()["items"]
    assert [(a["action"], a["actor"]) for a in reversed(audit)] == [
        ("create", "admin"),
        ("update", "admin"),
        ("delete", "admin"),
    ]
    assert (
        audit[1]["before"]["limits"]["h"]["value"] == 11200
        and audit[1]["after"]["limits"]["h"]["value"] == 11400
    )
    assert audit[1]["comment"] == "raise limit"


def test_unknown_alarm_is_problem_json(aclient: TestClient) -> None:
    r = aclient.post("/api/v1/alarms/999999/ack")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
