"""/api/v1/live over a real socket: the snapshot, resuming with Last-Event-ID, alarm transitions."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import orjson

from tests.support.console import ConsoleServer, post_samples, register


def read_events(
    response: httpx.Response, until: str, timeout: float = 10.0
) -> list[tuple[str, str | None, dict]]:  # type: ignore[type-arg]
    """(event, id, data) until an event named `until` arrives."""
    events = []
    kind, event_id, data = "message", None, []
    deadline = time.monotonic() + timeout
    for line in response.iter_lines():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {until!r} event within {timeout} s: {[e[0] for e in events]}")
        if line == "":
            if data:
                events.append((kind, event_id, orjson.loads("\n".join(data))))
                if kind == until:
                    return events
            kind, event_id, data = "message", None, []
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("data: "):
            data.append(line[6:])
    raise AssertionError("stream ended")


def test_snapshot_then_resume_with_last_event_id(console: ConsoleServer) -> None:
    headers = {"Authorization": f"Bearer {console.viewer_token}"}
    register(console, [{"id": "north/live-probe", "type": "meter", "site": "north", "nominal_voltage": 400}])
    with httpx.stream("GET", f"{console.url}/api/v1/live", headers=headers, timeout=10) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        events = read_events(r, "latest")
    hello = events[0][2]
    assert events[0][0] == "hello" and hello["measurements"]["voltage"]["unit"] == "V"
    _, resume_id, snapshot = events[-1]
    assert snapshot["snapshot"] is True and resume_id
    devices = {row[0] for row in snapshot["items"]}
    assert {"north/tx-1", "east/gen-1"} <= devices  # every device's latest values
    # While the client is away: a sample and an alarm.
    post_samples(console, {"device_id": "north/live-probe", "voltage": 460.0})
    with httpx.stream(
        "GET", f"{console.url}/api/v1/live", headers=headers | {"Last-Event-ID": resume_id}, timeout=10
    ) as r:
        events = read_events(r, "status")
    resumed = next(e for e in events if e[0] == "latest")[2]
    assert resumed["snapshot"] is False
    rows = [row for row in resumed["items"] if row[0] == "north/live-probe"]
    assert rows and rows[0][1:3] == ["voltage", 460.0]
    # Only what was received after the cursor (less the visibility margin), not everything again.
    cursor_us = int(resume_id.split(".")[1])
    since = datetime.fromtimestamp((cursor_us - 5_000_000) / 1e6, UTC)
    assert all(datetime.fromisoformat(row[4]) > since for row in resumed["items"])
    missed = [e[2] for e in events if e[0] == "transition"]
    assert any(t["device_id"] == "north/live-probe" and t["action"] == "activate" for t in missed)


def test_the_stream_needs_a_credential(console: ConsoleServer) -> None:
    r = httpx.get(f"{console.url}/api/v1/live", timeout=5)
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("application/problem+json")
