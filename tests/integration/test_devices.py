"""Device registry CRUD and latest values, on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.clock import iso, past
from tests.support.tokens import Tokens

TX = {
    "type": "transformer",
    "site": "north",
    "nominal_voltage": 11000,
    "rated_current": 1050,
    "nominal_frequency": 50,
    "rated_power": 20000,
    "tags": {"bay": "T1"},
}


def test_crud_round_trip_with_slash_ids(client: TestClient) -> None:
    r = client.post("/api/v1/devices", json={"id": "north/tx-1", **TX})
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/api/v1/devices/north/tx-1"
    assert client.post("/api/v1/devices", json={"id": "north/tx-1", **TX}).status_code == 409
    got = client.get("/api/v1/devices/north/tx-1").json()
    assert got["rated_power"] == 20000 and got["tags"] == {"bay": "T1"}
    patched = client.patch("/api/v1/devices/north/tx-1", json={"rated_current": 1100}).json()
    assert patched["rated_current"] == 1100 and patched["site"] == "north"
    assert client.put("/api/v1/devices/north/tx-1", json={**TX, "rated_power": 25000}).status_code == 200
    listing = client.get("/api/v1/devices", params={"site": "north"}).json()
    assert [d["id"] for d in listing["items"]] == ["north/tx-1"] and listing["total"] == 1
    assert client.delete("/api/v1/devices/north/tx-1").status_code == 204
    assert client.get("/api/v1/devices/north/tx-1").status_code == 404
    assert client.delete("/api/v1/devices/north/tx-1").status_code == 404


def test_invalid_device_specs(client: TestClient) -> None:
    bad = [
        ({"id": "x", **TX, "nominal_frequency": 55}, "nominal_frequency"),
        ({"id": "x", **TX, "type": "toaster"}, "type"),
        ({"id": "x", **TX, "rated_current": -1}, "rated_current"),
        ({"id": "bad id with spaces", **TX}, "id"),
        ({"id": "x", **TX, "colour": "red"}, "colour"),
    ]
    for body, field in bad:
        r = client.post("/api/v1/devices", json=body)
        assert r.status_code == 422, body
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == field
    r = client.put("/api/v1/devices/bad id", json=TX)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "device_id"


def test_latest_keeps_the_newest_sample(client: TestClient) -> None:
    client.put("/api/v1/devices/north/tx-1", json=TX)
    t0 = past(hours=1)
    client.post(
        "/api/v1/scada/data",
        json={
            "device_id": "north/tx-1",
            "timestamp": iso(t0 + timedelta(seconds=5)),
            "voltage": 11100,
            "breaker_closed": True,
        },
    )
    # An older sample arriving late does not overwrite the latest value.
    client.post(
        "/api/v1/scada/data",
        json={
            "device_id": "north/tx-1",
            "timestamp": iso(t0 + timedelta(seconds=1)),
            "voltage": 10900,
            "quality": "questionable",
        },
    )
    latest = client.get("/api/v1/devices/north/tx-1/latest").json()["measurements"]
    assert latest["voltage"]["value"] == 11100
    assert datetime.fromisoformat(latest["voltage"]["ts"]) == t0 + timedelta(seconds=5)
    assert latest["breaker_closed"]["value"] is True
    assert client.get("/api/v1/devices/nope/latest").status_code == 404


def test_roles(client: TestClient, tokens: Tokens) -> None:
    client.put("/api/v1/devices/north/tx-1", json=TX)
    assert client.get("/api/v1/devices", headers={"Authorization": ""}).status_code == 401
    r = client.get("/api/v1/devices", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/devices", headers=tokens.header("viewer")).status_code == 200
    assert client.put("/api/v1/devices/a", json=TX, headers=tokens.header("viewer")).status_code == 403
    assert client.put("/api/v1/devices/a", json=TX, headers=tokens.header("operator")).status_code == 403
    # ingest may only write samples
    assert client.get("/api/v1/devices", headers=tokens.header("ingest")).status_code == 403
    sample = {"device_id": "north/tx-1", "voltage": 11000}
    assert client.post("/api/v1/scada/data", json=sample, headers=tokens.header("ingest")).status_code == 200
    assert client.post("/api/v1/scada/data", json=sample, headers=tokens.header("viewer")).status_code == 403
    assert client.get("/api/v1/scada/status", headers=tokens.header("viewer")).status_code == 200
