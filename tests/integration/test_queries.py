"""History queries: raw points, buckets from raw samples, buckets from rollups; grid status."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.clock import iso, past

# Six hours ago, on a whole hour: 100 minutes of samples fit before now and in whole 10-minute buckets.
T0 = past(hours=6)


def seed_series(client: TestClient) -> list[float]:
    client.put(
        "/api/v1/devices/north/feeder-1", json={"type": "feeder", "site": "north", "nominal_voltage": 11000}
    )
    values = [11000 + (i % 17) * 3.5 for i in range(600)]  # one every 10 s for 100 minutes
    items = [
        {
            "device_id": "north/feeder-1",
            "timestamp": (T0 + timedelta(seconds=10 * i)).isoformat(),
            "voltage": v,
        }
        for i, v in enumerate(values)
    ]
    # One invalid reading: kept raw, excluded from aggregates.
    items[5]["quality"] = "invalid"
    items[5]["voltage"] = 0.0
    assert client.post("/api/v1/scada/data", json=items).json()["stored"] == 600
    values[5] = float("nan")
    return values


def query(client: TestClient, **params: object) -> dict:
    base = {"device_id": "north/feeder-1", "measurement": "voltage"}
    r = client.get("/api/v1/scada/data", params=base | params)
    assert r.status_code == 200, r.text
    return r.json()


def test_rollup_buckets_match_raw_aggregation(client: TestClient) -> None:
    values = seed_series(client)
    rolled = query(
        client, **{"from": T0.isoformat(), "to": (T0 + timedelta(minutes=100)).isoformat(), "step": "10m"}
    )
    raw = query(
        client, **{"from": T0.isoformat(), "to": (T0 + timedelta(minutes=100)).isoformat(), "step": "600s"}
    )
    assert rolled["source"] == "rollup_1m"
    assert len(rolled["buckets"]) == 10
    for b in rolled["buckets"]:
        start = (datetime.fromisoformat(b["ts"]) - T0) // timedelta(seconds=10)
        window = [v for v in values[start : start + 60] if v == v]
        assert b["count"] == len(window)
        assert b["min"] == min(window) and b["max"] == max(window)
        assert abs(b["avg"] - sum(window) / len(window)) < 1e-9
        assert b["last"] == window[-1]
    # Step 600 s is also whole minutes, so both requests read rollups; a 30 s step reads raw samples.
    assert rolled["buckets"] == raw["buckets"]
    fine = query(
        client, **{"from": T0.isoformat(), "to": (T0 + timedelta(minutes=2)).isoformat(), "step": "30s"}
    )
    assert fine["source"] == "raw"
    assert [b["count"] for b in fine["buckets"]] == [3, 2, 3, 3]  # item 5 (t=50 s) is invalid


def test_raw_points_limit_and_truncation(client: TestClient) -> None:
    seed_series(client)
    r = query(
        client, **{"from": T0.isoformat(), "to": (T0 + timedelta(minutes=100)).isoformat(), "limit": 50}
    )
    assert r["source"] == "raw" and r["truncated"] is True and len(r["points"]) == 50
    assert r["points"][5]["quality"] == "invalid"


def test_query_errors(client: TestClient) -> None:
    seed_series(client)
    assert (
        client.get(
            "/api/v1/scada/data", params={"device_id": "north/feeder-1", "measurement": "colour"}
        ).status_code
        == 422
    )
    assert client.get("/api/v1/scada/data", params={"device_id": "nope"}).status_code == 404
    r = client.get("/api/v1/scada/data", params={"device_id": "north/feeder-1", "step": "5 parsecs"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "step"
    r = client.get(
        "/api/v1/scada/data",
        params={"device_id": "north/feeder-1", "from": iso(T0), "to": iso(T0 - timedelta(hours=1))},
    )
    assert r.status_code == 422
    r = client.get("/api/v1/scada/data", params={"device_id": "north/feeder-1", "from": "yesterday"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"


def test_grid_status(client: TestClient) -> None:
    client.put("/api/v1/devices/north/bus-1", json={"type": "bus", "site": "north", "nominal_voltage": 11000})
    client.put("/api/v1/devices/north/cb-1", json={"type": "breaker", "site": "north"})
    client.put("/api/v1/devices/south/bus-1", json={"type": "bus", "site": "south", "nominal_voltage": 11000})
    client.post(
        "/api/v1/scada/data",
        json=[
            {"device_id": "north/bus-1", "voltage": 11550, "frequency": 50.02},
            {"device_id": "north/cb-1", "breaker_closed": False},
        ],
    )
    status = client.get("/api/v1/scada/status").json()
    north, south = status["sites"]
    assert north["site"] == "north" and north["devices"] == 2 and north["reporting"] == 2
    assert north["voltage_pu"] == {"min": 1.05, "max": 1.05, "avg": 1.05}
    assert north["frequency_hz"]["avg"] == 50.02
    assert north["breakers_open"] == 1
    assert south["never_reported"] == 1 and south["voltage_pu"] is None
    assert status["totals"] == {"devices": 3, "reporting": 2, "stale": 0, "never_reported": 1, "sites": 2}


def test_long_range_rounds_step_to_minutes_and_reads_rollups(client: TestClient) -> None:
    seed_series(client)
    r = query(client, **{"from": T0.isoformat(), "to": (T0 + timedelta(hours=3)).isoformat(), "step": "90s"})
    assert (r["source"], r["step_seconds"]) == ("rollup_1m", 120)
    assert sum(b["count"] for b in r["buckets"]) == 599  # every valid sample, once
    short = query(
        client, **{"from": T0.isoformat(), "to": (T0 + timedelta(hours=1)).isoformat(), "step": "90s"}
    )
    assert (short["source"], short["step_seconds"]) == ("raw", 90)
