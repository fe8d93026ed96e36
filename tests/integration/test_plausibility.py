"""What ingest refuses as implausible (absolute bounds from the catalogue, bounds from the device's ratings),
aggregates that stay finite, device ids and sites, and limits shown at the measurement's precision. Both
backends."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from gridos.telemetry.catalogue import CORE_MEASUREMENTS
from tests.support.clock import iso, past

BUS = {"type": "bus", "site": "north", "nominal_voltage": 11000, "nominal_frequency": 50}
FEEDER = {
    "type": "feeder",
    "site": "north",
    "nominal_voltage": 11000,
    "rated_current": 400,
    "rated_power": 7600,
}


def post(client: TestClient, *items: dict[str, object]) -> tuple[int, dict]:
    r = client.post("/api/v1/scada/data", json=list(items))
    return r.status_code, r.json()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("voltage", 1e308),
        ("voltage", 2e6),
        ("voltage", -1.0),
        ("current", 1.7e308),
        ("active_power", -1e9),
        ("frequency", 1e5),
        ("temperature", 5000.0),
    ],
)
def test_values_no_grid_device_could_report_are_refused(client: TestClient, field: str, value: float) -> None:
    client.put("/api/v1/devices/lab-meter", json={"type": "meter", "site": "lab"}).raise_for_status()
    status, problem = post(client, {"device_id": "lab-meter", field: value})
    assert status == 422, problem
    assert problem["errors"][0]["field"] == field
    assert client.get("/api/v1/devices/lab-meter/latest").json()["measurements"] == {}


def test_numbers_that_overflow_to_infinity_are_refused(client: TestClient) -> None:
    client.put("/api/v1/devices/lab-meter", json={"type": "meter", "site": "lab"}).raise_for_status()
    for literal in (b"1e400", b"-1e400"):
        body = b'{"device_id": "lab-meter", "current": ' + literal + b"}"
        r = client.post("/api/v1/scada/data", content=body, headers={"Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == "current"


def test_values_beyond_the_device_ratings_are_refused_with_the_reason(client: TestClient) -> None:
    client.put("/api/v1/devices/north/feeder-1", json=FEEDER).raise_for_status()
    t = past(minutes=10, align=timedelta(minutes=1))
    good = {"device_id": "north/feeder-1", "timestamp": iso(t), "voltage": 11200, "current": 900}
    bad = {"device_id": "north/feeder-1", "timestamp": iso(t + timedelta(seconds=1)), "voltage": 23000}
    status, problem = post(client, good, bad)
    assert status == 422, problem
    error = problem["errors"][0]
    assert (error["item"], error["field"]) == (1, "voltage")
    assert "23000 V is not plausible" in error["message"]
    assert "more than 22000 V (2 x its nominal_voltage of 11000)" in error["message"]
    # The batch is atomic: nothing of it was stored.
    assert client.get("/api/v1/devices/north/feeder-1/latest").json()["measurements"] == {}
    # Current up to 50 x rated (a fault) is plausible; beyond is not. Power is bounded by 3 x rated kVA.
    assert post(client, good | {"current": 20_000})[0] == 200
    status, problem = post(client, good | {"current": 20_001, "active_power": -30_000})
    assert status == 422
    assert [e["field"] for e in problem["errors"]] == ["current", "active_power"]
    # A rating changed through the API applies to the very next batch.
    client.patch("/api/v1/devices/north/feeder-1", json={"nominal_voltage": 20000}).raise_for_status()
    assert post(client, bad)[0] == 200


def test_aggregates_of_the_largest_accepted_values_stay_finite(client: TestClient) -> None:
    """Two samples at the catalogue's bound must average to that bound, not overflow to null."""
    client.put("/api/v1/devices/lab-meter", json={"type": "meter", "site": "lab"}).raise_for_status()
    bound = {m.name: m.maximum for m in CORE_MEASUREMENTS}["current"]
    assert bound is not None
    t0 = past(hours=3)
    items = [
        {"device_id": "lab-meter", "timestamp": iso(t0 + timedelta(seconds=s)), "current": bound}
        for s in range(0, 120, 10)
    ]
    assert post(client, *items)[0] == 200
    for step in ("1m", "30s"):  # from the 1-minute rollups and from raw samples
        r = client.get(
            "/api/v1/scada/data",
            params={
                "device_id": "lab-meter",
                "measurement": "current",
                "from": iso(t0),
                "to": iso(t0 + timedelta(hours=3)) if step == "1m" else iso(t0 + timedelta(minutes=2)),
                "step": step,
            },
        )
        assert r.status_code == 200, r.text
        buckets = [b for b in r.json()["buckets"] if b["count"]]
        assert buckets and all(math.isfinite(b["avg"]) and b["avg"] == bound for b in buckets)


def test_device_id_errors_are_explained_in_words(client: TestClient) -> None:
    r = client.post("/api/v1/devices", json={"id": "north//tx 1", **BUS})
    assert r.status_code == 422
    message = r.json()["errors"][0]["message"]
    assert "letters, digits" in message and "separated by '/'" in message
    assert "[A-Za-z0-9]" not in r.text  # no raw regex anywhere in the answer
    r = client.put("/api/v1/devices/-bad", json=BUS)
    assert r.status_code == 422 and "[A-Za-z0-9]" not in r.text
    assert "letters, digits" in r.json()["errors"][0]["message"]
    r = client.post("/api/v1/scada/data", json={"device_id": "bad id", "voltage": 1})
    assert r.status_code == 422 and "[A-Za-z0-9]" not in r.text
    r = client.post("/api/v1/devices", json={"id": "x", **BUS, "site": "no spaces"})
    assert r.status_code == 422 and "[A-Za-z0-9]" not in r.text
    assert r.json()["errors"][0]["field"] == "site"


def test_a_site_prefix_that_contradicts_the_site_is_refused(client: TestClient) -> None:
    r = client.put("/api/v1/devices/north/bus-1", json=BUS | {"site": "south"})
    assert r.status_code == 422
    assert r.json()["errors"][0] == {
        "field": "site",
        "message": "must be 'north', the site named by the device id",
    }
    r = client.post("/api/v1/devices", json={"id": "north/bus-1", **BUS, "site": "south"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "site"
    assert client.put("/api/v1/devices/north/bus-1", json=BUS).status_code == 201
    assert client.patch("/api/v1/devices/north/bus-1", json={"site": "south"}).status_code == 422
    assert client.get("/api/v1/devices/north/bus-1").json()["site"] == "north"
    # An id without '/' may live in any site.
    assert client.put("/api/v1/devices/bus-7", json=BUS | {"site": "south"}).status_code == 201


def test_default_limits_are_shown_at_the_measurement_precision(client: TestClient) -> None:
    client.put("/api/v1/devices/north/bus-1", json=BUS).raise_for_status()
    assert post(client, {"device_id": "north/bus-1", "voltage": 12500.0})[0] == 200
    alarms = client.get("/api/v1/alarms", params={"device_id": "north/bus-1"}).json()["items"]
    limits = sorted(a["limit"] for a in alarms)
    assert limits == [11550, 12100]  # 1.05 and 1.10 x 11000, not 12100.000000000002
    assert all(repr(float(v)) in (repr(11550.0), repr(12100.0)) for v in limits)
