"""On PostgreSQL a batch and the alarm changes it causes commit in one transaction (one WAL flush instead of
two in a row: the alarm latency under load, docs/benchmarks.md), the alarm part in a savepoint: when it
fails, the batch still commits and the next sample past the limit raises the alarm. SQLite checks each
batch after its commit, with the same outcome."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridos.alarms import repository
from tests.alarms.conftest import DEVICE, Feed, active


def _services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _one(client: TestClient, sql: str) -> Any:
    with _services(client).engine.connect() as conn:
        return conn.execute(text(sql), {"d": DEVICE}).scalar_one()


ACTIVE = "SELECT count(*) FROM alarms WHERE device_id = :d AND condition_active"


def test_the_alarm_commits_with_the_sample_that_raised_it(aclient: TestClient, feed: Feed) -> None:
    services = _services(aclient)
    feed.send(voltage=11000.0)
    assert active(aclient, device_id=DEVICE) == []
    seen: dict[str, int] = {}
    if services.engine.dialect.name == "postgresql":
        # Looks from inside the batch's transaction, after the alarm check, before the commit.
        def look(conn: Any, rows: Any) -> None:
            seen["inside"] = conn.execute(text(ACTIVE), {"d": DEVICE}).scalar_one()
            seen["outside"] = _one(aclient, ACTIVE)

        services.telemetry.transaction_observers.append(look)
    feed.send(voltage=12500.0)  # +13.6 %: h and hh
    assert {a["condition"] for a in active(aclient, device_id=DEVICE)} >= {"h", "hh"}
    assert _one(aclient, ACTIVE) >= 2
    if seen:
        # Written in the batch's transaction, not committed yet while it was open.
        assert seen["inside"] >= 2 and seen["outside"] == 0


def test_a_failing_alarm_write_leaves_the_batch_committed(
    aclient: TestClient, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = _services(aclient)
    insert_events = repository.insert_events

    def broken(conn: Any, rows: Any) -> Any:
        raise RuntimeError("journal unavailable")

    feed.send(voltage=11000.0)
    errors = services.alarms.errors
    monkeypatch.setattr(repository, "insert_events", broken)
    feed.send(voltage=12500.0)  # 200: the sample is stored, its alarm changes are not
    assert services.alarms.errors == errors + 1
    assert active(aclient, device_id=DEVICE) == []
    assert (
        aclient.get(f"/api/v1/devices/{DEVICE}/latest").json()["measurements"]["voltage"]["value"] == 12500.0
    )
    # Rolled back to the savepoint: no half-written alarm point (the point's state was saved before the
    # journal write failed).
    assert _one(aclient, ACTIVE) == 0
    monkeypatch.setattr(repository, "insert_events", insert_events)
    feed.send(voltage=12600.0)
    assert {a["condition"] for a in active(aclient, device_id=DEVICE)} >= {"h", "hh"}
