"""On PostgreSQL a small batch of recent samples (a device's reading, an MQTT message, a Modbus poll) is
written by one statement (gridos.telemetry.pgwrite.write_small), a large or older one by binary COPY. Both
store, deduplicate, mark minutes for the rollup job and merge latest values alike; SQLite, with one path,
gives the same answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridos.app import create_app
from gridos.clock import MINUTE_US, to_us
from gridos.services import Services
from gridos.telemetry import store as store_module
from gridos.telemetry.pgwrite import SMALL_BATCH
from tests.support.clock import iso
from tests.support.tokens import Tokens

DEVICE = "north/feeder-9"


@pytest.fixture
def client(make_settings, tokens: Tokens) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings()), headers=tokens.header("admin")) as c:
        c.put(f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north"}).raise_for_status()
        yield c


@pytest.fixture
def small_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many samples each small-batch statement was given (PostgreSQL only)."""
    calls: list[int] = []
    real = store_module.write_small

    def counting(conn, keyed):  # type: ignore[no-untyped-def]
        calls.append(len(keyed))
        return real(conn, keyed)

    monkeypatch.setattr(store_module, "write_small", counting)
    return calls


def _services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _post(client: TestClient, items: list[dict[str, object]]) -> dict[str, int]:
    r = client.post("/api/v1/scada/data", json=items)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _points(client: TestClient, start: datetime, end: datetime) -> list[tuple[str, float]]:
    r = client.get(
        "/api/v1/scada/data",
        params={"device_id": DEVICE, "measurement": "voltage", "from": iso(start), "to": iso(end)},
    )
    assert r.status_code == 200, r.text
    return [(p["ts"], p["value"]) for p in r.json()["points"]]


def _marks(client: TestClient, bucket: int) -> int:
    with _services(client).engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM rollup_pending WHERE bucket = :b"), {"b": bucket}
            ).scalar_one()
        )


@pytest.mark.parametrize("size", [3, SMALL_BATCH + 10], ids=["small", "large"])
def test_recent_batches_store_deduplicate_mark_and_merge_alike(
    client: TestClient, small_writes: list[int], size: int
) -> None:
    postgres = _services(client).engine.dialect.name == "postgresql"
    # Recent enough that the rollup job cannot have taken their minute; one voltage per 10 ms.
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    items = [
        {"device_id": DEVICE, "timestamp": iso(t0 + timedelta(milliseconds=10 * i)), "voltage": 11000.0 + i}
        for i in range(size)
    ]
    assert _post(client, items) == {"accepted": size, "stored": size, "duplicates": 0}
    # Which path took it: the one statement for the small batch only (and never on SQLite).
    assert small_writes == ([size] if postgres and size <= SMALL_BATCH else [])

    # A retry is all duplicates; the same sample twice in one batch is stored once, the first value kept.
    assert _post(client, items) == {"accepted": size, "stored": 0, "duplicates": size}
    later = t0 + timedelta(milliseconds=10 * size + 500)
    twice = [
        {"device_id": DEVICE, "timestamp": iso(later), "voltage": 1.0},
        {"device_id": DEVICE, "timestamp": iso(later), "voltage": 2.0},
    ]
    assert _post(client, twice) == {"accepted": 2, "stored": 1, "duplicates": 1}
    points = _points(client, t0 - timedelta(seconds=1), later + timedelta(seconds=1))
    assert [v for _, v in points] == [11000.0 + i for i in range(size)] + [1.0]

    # The newest sample is the latest value; an older one arriving afterwards does not replace it.
    older = [{"device_id": DEVICE, "timestamp": iso(t0 - timedelta(seconds=1)), "voltage": 5.0}]
    assert _post(client, older)["stored"] == 1
    latest = client.get(f"/api/v1/devices/{DEVICE}/latest").json()["measurements"]["voltage"]
    assert latest["value"] == 1.0

    # Every minute written into is marked for the rollup job, and minute buckets are exact before it runs.
    for t in (t0, later, t0 - timedelta(seconds=1)):
        assert _marks(client, to_us(t) - to_us(t) % MINUTE_US) >= 1
    r = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": DEVICE,
            "measurement": "voltage",
            "from": iso(t0 - timedelta(minutes=2)),
            "to": iso(later + timedelta(minutes=1)),
            "step": "1m",
        },
    )
    assert r.status_code == 200, r.text
    buckets = r.json()["buckets"]
    assert sum(b["count"] for b in buckets) == size + 2
    assert min(b["min"] for b in buckets) == 1.0
    assert max(b["max"] for b in buckets) == 11000.0 + size - 1


@pytest.mark.parametrize("path", ["write_small", "write_postgres"])
def test_a_connection_lost_mid_write_is_a_503_on_either_path(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    """The write paths talk to psycopg directly (COPY, the one statement); a connection that dies under them
    must still be the API's 'database unavailable, retry' (503), nothing stored, as when it dies anywhere
    else, not an unexplained 500."""
    engine = _services(client).engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no connection to lose")
    real = getattr(store_module, path)

    def killed(conn, *args):  # type: ignore[no-untyped-def]
        pid = conn.connection.driver_connection.info.backend_pid
        with engine.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return real(conn, *args)

    monkeypatch.setattr(store_module, path, killed)
    t0 = datetime.now(UTC) - (timedelta(seconds=1) if path == "write_small" else timedelta(hours=1))
    item = {"device_id": DEVICE, "timestamp": iso(t0), "voltage": 11000.0}
    r = client.post("/api/v1/scada/data", json=[item])
    assert r.status_code == 503, r.text
    assert r.json()["detail"] == "the database is unavailable; retry later"
    monkeypatch.setattr(store_module, path, real)
    # Nothing of it was stored: the retry stores it.
    assert _post(client, [item]) == {"accepted": 1, "stored": 1, "duplicates": 0}
