"""Breaker changes are events, not alarms: listed under /api/v1/alarms/events from the historian, on both
backends, and absent from the alarm list unless a rule asks for them."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.alarms.conftest import DEVICE, Feed, active
from tests.support.clock import iso, past


def test_breaker_changes_are_events_not_alarms(aclient: TestClient, feed: Feed) -> None:
    feed.send(breaker_closed=True)
    feed.send(breaker_closed=True)  # no change: no event
    feed.send(breaker_closed=False)
    feed.send(breaker_closed=False, quality="invalid")  # unreliable reading: ignored
    feed.send(breaker_closed=True)
    assert active(aclient) == []

    r = aclient.get("/api/v1/alarms/events", params={"device_id": DEVICE})
    assert r.status_code == 200, r.text
    events = r.json()["items"]
    assert [(e["event"], e["previous"], e["value"]) for e in events] == [
        ("breaker closed", False, True),
        ("breaker opened", True, False),
    ]
    assert events[0]["device_id"] == DEVICE and events[0]["measurement"] == "breaker_closed"
    assert events[0]["ts"] > events[1]["ts"]

    # The window's first change still knows the state it left (read from before `from`).
    since = events[0]["ts"]
    only_last = aclient.get("/api/v1/alarms/events", params={"device_id": DEVICE, "from": since}).json()
    assert [e["event"] for e in only_last["items"]] == ["breaker closed"]
    assert aclient.get("/api/v1/alarms/events", params={"device_id": "north/other"}).json()["items"] == []


def test_events_reject_an_inverted_window(aclient: TestClient) -> None:
    r = aclient.get("/api/v1/alarms/events", params={"from": iso(past(days=1)), "to": iso(past(days=2))})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
