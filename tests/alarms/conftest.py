"""Alarm fixtures: the app with alarm settings from the environment, a device with ratings, helpers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridos.app import create_app
from tests.conftest import Tokens

DEVICE = "north/tx-1"


@pytest.fixture
def alarm_env() -> dict[str, str]:
    """Fast loops so tests need not wait; tests add their own GRIDOS_ALARMS_* to build their settings."""
    return {
        "GRIDOS_ALARMS_SYNC_SECONDS": "0.1",
        "GRIDOS_ALARMS_SUPERVISE_SECONDS": "0.2",
        "GRIDOS_ALARMS_COMM_CHECK_SECONDS": "0.2",
        "GRIDOS_ALARMS_OUTBOX_POLL_SECONDS": "0.1",
    }


@pytest.fixture
def aclient(alarm_env, make_settings, tokens: Tokens) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(alarm_env))
    with TestClient(app, headers=tokens.header("admin")) as c:
        c.put(
            f"/api/v1/devices/{DEVICE}",
            json={
                "type": "transformer",
                "site": "north",
                "nominal_voltage": 11000,
                "rated_current": 400,
                "nominal_frequency": 50,
                "expected_interval_s": 1,
            },
        ).raise_for_status()
        yield c


class Feed:
    """Posts samples with explicit, increasing timestamps."""

    def __init__(self, client: TestClient, tokens: Tokens, device: str = DEVICE) -> None:
        self.client, self.tokens, self.device = client, tokens, device
        self.t = datetime.now(UTC) - timedelta(seconds=120)

    def send(self, step_s: float = 1.0, **values: Any) -> None:
        self.t += timedelta(seconds=step_s)
        r = self.client.post(
            "/api/v1/scada/data",
            json={"device_id": self.device, "timestamp": self.t.isoformat(), **values},
            headers=self.tokens.header("ingest"),
        )
        assert r.status_code == 200, r.text


@pytest.fixture
def feed(aclient: TestClient, tokens: Tokens) -> Feed:
    return Feed(aclient, tokens)


def active(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/v1/alarms", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]
