"""POST /api/v1/scada/data on both backends: the contract (docs/contract.md), batches, idempotency, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.support.clock import iso, past
from tests.support.tokens import Tokens


def register(client: TestClient, device_id: str = "test-device", **fields: object) -> None:
    body = {"type": "meter", "site": "lab", "nominal_voltage": 230.0, "nominal_frequency": 50} | fields
    r = client.put(f"/api/v1/devices/{device_id}", json=body)
    assert r.status_code in (200, 201), r.text


def test_seed_contract_works_as_written(client: TestClient) -> None:
    register(client)
    r = client.post("/api/v1/scada/data", json={"device_id": "test-device", "voltage": 230, "current": 10})
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 2, "stored": 2, "duplicates": 0}
    latest = client.get("/api/v1/devices/test-device/latest").json()["measurements"]
    assert latest["voltage"]["value"] == 230
    assert latest["current"]["unit"] == "A"
    assert latest["voltage"]["quality"] == "good"
    # Without a timestamp the sample is stamped with its receive time.
    ts = datetime.fromisoformat(latest["voltage"]["ts"])
    assert abs((datetime.now(UTC) - ts).total_seconds()) < 60


def test_batch_array_and_ndjson(client: TestClient) -> None:
    register(client, "north/tx-1", site="north", nominal_voltage=11000.0)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    items = [
        {
            "device_id": "north/tx-1",
            "timestamp": (t0 + timedelta(seconds=i)).isoformat(),
            "voltage": 11000 + i,
        }
        for i in range(100)
    ]
    r = client.post("/api/v1/scada/data", json=items)
    assert r.json() == {"accepted": 100, "stored": 100, "duplicates": 0}
    ndjson = b"\n".join(
        orjson.dumps(
            {
                "device_id": "north/tx-1",
                "timestamp": (t0 + timedelta(seconds=100 + i)).isoformat(),
                "frequency": 50.01,
            }
        )
        for i in range(10)
    )
    r = client.post("/api/v1/scada/data", content=ndjson, headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == 10
    series = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": "north/tx-1",
            "measurement": "voltage",
            "from": t0.isoformat(),
            "to": (t0 + timedelta(minutes=5)).isoformat(),
        },
    ).json()
    assert [p["value"] for p in series["points"]] == [11000 + i for i in range(100)]


def test_retry_is_idempotent(client: TestClient) -> None:
    register(client)
    t = past(days=1)
    body = [{"device_id": "test-device", "timestamp": iso(t), "voltage": 231.5, "current": 9}]
    first = client.post("/api/v1/scada/data", json=body).json()
    again = client.post("/api/v1/scada/data", json=body).json()
    assert first == {"accepted": 2, "stored": 2, "duplicates": 0}
    assert again == {"accepted": 2, "stored": 0, "duplicates": 2}
    # Rollups count the sample once, not twice.
    buckets = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": "test-device",
            "measurement": "voltage",
            "from": iso(t - timedelta(hours=1)),
            "to": iso(t + timedelta(hours=1)),
            "step": "1h",
        },
    ).json()["buckets"]
    assert [(b["count"], b["avg"]) for b in buckets] == [(1, 231.5)]


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"device_id": "test-device", "voltage": 230, "colour": "red"}, "colour"),
        ({"device_id": "test-device", "voltage": "high"}, "voltage"),
        ({"device_id": "test-device", "power_factor": 1.5}, "power_factor"),
        (
            {
                "device_id": "test-device",
                "voltage": 230,
                "timestamp": past(hours=1).replace(tzinfo=None).isoformat(),
            },
            "timestamp",
        ),
        ({"device_id": "test-device", "breaker_closed": "yes"}, "breaker_closed"),
        ({"voltage": 230}, "device_id"),
    ],
)
def test_bad_item_is_named_and_nothing_is_written(client: TestClient, item: dict, field: str) -> None:
    register(client)
    good = {"device_id": "test-device", "timestamp": iso(past(hours=1)), "voltage": 230}
    r = client.post("/api/v1/scada/data", json=[good, item])
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["status"] == 422
    assert {"item": 1, "field": field} == {k: problem["errors"][0][k] for k in ("item", "field")}
    # The batch is atomic: the good item was not written either.
    assert client.get("/api/v1/devices/test-device/latest").json()["measurements"] == {}


def test_nan_and_infinity_are_rejected_by_field(client: TestClient) -> None:
    register(client)
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"device_id": "test-device", "voltage": ' + literal + b"}"
        r = client.post("/api/v1/scada/data", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "voltage"


def test_future_timestamp_rejected(client: TestClient) -> None:
    register(client)
    future = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    r = client.post(
        "/api/v1/scada/data", json={"device_id": "test-device", "voltage": 230, "timestamp": future}
    )
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "item": 0,
        "field": "timestamp",
        "message": r.json()["errors"][0]["message"],
    }
    assert "future" in r.json()["detail"]
    near = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert (
        client.post(
            "/api/v1/scada/data", json={"device_id": "test-device", "voltage": 1, "timestamp": near}
        ).status_code
        == 200
    )


def test_unknown_device_rejected_by_default(client: TestClient) -> None:
    r = client.post("/api/v1/scada/data", json=[{"device_id": "ghost/dev-1", "voltage": 230}])
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "device_id"
    assert "ghost/dev-1" in r.json()["detail"]


def test_unknown_device_auto_registered_when_configured(make_settings, tokens: Tokens) -> None:
    from gridos.app import create_app

    app = create_app(make_settings(unknown_device="auto_register"))
    with TestClient(app, headers=tokens.header("ingest")) as c:
        assert (
            c.post("/api/v1/scada/data", json={"device_id": "west/meter-9", "voltage": 231}).status_code
            == 200
        )
        device = c.get("/api/v1/devices/west/meter-9", headers=tokens.header("viewer")).json()
    assert device["site"] == "west"
    assert device["tags"] == {"auto_registered": "true"}


def test_batch_over_limit_is_413(make_settings, tokens: Tokens) -> None:
    from gridos.app import create_app

    app = create_app(make_settings(max_batch_samples=10))
    with TestClient(app, headers=tokens.header("admin")) as c:
        register(c)
        t0 = past(hours=1)
        items = [
            {"device_id": "test-device", "timestamp": iso(t0 + timedelta(seconds=i)), "voltage": 1}
            for i in range(11)
        ]
        r = c.post("/api/v1/scada/data", json=items)
    assert r.status_code == 413
    assert r.json()["limit"] == 10


def test_malformed_json_is_400_family(client: TestClient) -> None:
    r = client.post("/api/v1/scada/data", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422
    assert "not valid JSON" in r.json()["detail"]
    assert client.post("/api/v1/scada/data", json=[]).status_code == 422


def test_partly_duplicate_batch_stores_only_new_samples(client: TestClient) -> None:
    register(client)
    t0 = past(hours=1)
    first = [
        {"device_id": "test-device", "timestamp": iso(t0 + timedelta(seconds=s)), "voltage": 230 + s}
        for s in range(0, 30)
    ]
    second = [
        {"device_id": "test-device", "timestamp": iso(t0 + timedelta(seconds=s)), "voltage": 230 + s}
        for s in range(20, 60)
    ]
    assert client.post("/api/v1/scada/data", json=first).json()["stored"] == 30
    assert client.post("/api/v1/scada/data", json=second).json() == {
        "accepted": 40,
        "stored": 30,
        "duplicates": 10,
    }
    (bucket,) = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": "test-device",
            "from": iso(t0),
            "to": iso(t0 + timedelta(minutes=1)),
            "step": "1m",
        },
    ).json()["buckets"]
    assert (bucket["count"], bucket["min"], bucket["max"], bucket["last"]) == (60, 230, 289, 289)
    assert bucket["avg"] == sum(230 + s for s in range(60)) / 60
