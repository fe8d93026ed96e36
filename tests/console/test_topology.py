"""Device topology (`upstream`) for the one-line diagram: validated, in the OpenAPI, on both backends."""

from __future__ import annotations

from fastapi.testclient import TestClient

from gridos.simulator.fleet import build_fleet


def _put(
    client: TestClient, device_id: str, type_: str, upstream: list[str] | None = None, site: str = "north"
):  # type: ignore[no-untyped-def]
    body = {"type": type_, "site": site, "nominal_voltage": 11000}
    if upstream is not None:
        body["upstream"] = upstream
    return client.put(f"/api/v1/devices/{device_id}", json=body)


def test_topology_round_trip_and_validation(client: TestClient) -> None:
    assert _put(client, "north/tx-1", "transformer").status_code == 201
    assert _put(client, "north/cb-1", "breaker", ["north/tx-1"]).status_code == 201
    r = client.post(
        "/api/v1/devices",
        json={"id": "north/bus-1", "type": "bus", "site": "north", "upstream": ["north/cb-1"]},
    )
    assert r.status_code == 201, r.text
    assert r.json()["upstream"] == ["north/cb-1"]
    assert client.get("/api/v1/devices/north/tx-1").json()["upstream"] == []

    def refused(r, fragment: str) -> None:  # type: ignore[no-untyped-def]
        assert r.status_code == 422, r.text
        body = r.json()
        assert r.headers["content-type"].startswith("application/problem+json")
        assert fragment in body["detail"], body
        assert body["errors"][0]["field"] == "upstream"

    refused(_put(client, "north/cb-2", "breaker", ["north/nothing"]), "not registered")
    refused(_put(client, "north/cb-2", "breaker", ["north/cb-2"]), "own upstream")
    refused(_put(client, "north/cb-2", "breaker", ["north/tx-1", "north/tx-1"]), "listed twice")
    assert _put(client, "south/tx-1", "transformer", site="south").status_code == 201
    refused(_put(client, "north/cb-2", "breaker", ["south/tx-1"]), "at site 'south'")
    # tx-1 -> cb-1 -> bus-1: making tx-1 fed by bus-1 would close a loop.
    refused(client.patch("/api/v1/devices/north/tx-1", json={"upstream": ["north/bus-1"]}), "cycle")
    assert client.get("/api/v1/devices/north/tx-1").json()["upstream"] == []
    # A device others are fed from cannot disappear from under them; once they move, it can.
    r = client.delete("/api/v1/devices/north/cb-1")
    assert r.status_code == 409 and "north/bus-1" in r.json()["detail"]
    assert client.patch("/api/v1/devices/north/bus-1", json={"upstream": []}).json()["upstream"] == []
    assert client.delete("/api/v1/devices/north/cb-1").status_code == 204


def test_topology_is_in_the_openapi(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("Device", "DeviceCreate", "DeviceFields", "DevicePatch"):
        assert "upstream" in schemas[name]["properties"], name
    assert "one-line diagram" in schemas["DeviceFields"]["properties"]["upstream"]["description"]


def test_demo_fleet_registers_with_its_topology(client: TestClient) -> None:
    fleet = build_fleet()
    for d in fleet:  # the simulator's own order: every upstream is registered first
        r = client.put(f"/api/v1/devices/{d.id}", json=d.spec(10))
        assert r.status_code == 201, r.text
    devices = {d["id"]: d for d in client.get("/api/v1/devices").json()["items"]}
    assert devices["east/bus-1"]["upstream"] == ["east/cb-1", "east/cb-2", "east/gen-1"]
    assert devices["north/feeder-8"]["upstream"] == ["north/cb-6"]
    # Every site is one connected diagram: every device but the grid transformers and the generator has
    # an upstream, and everything is reachable from the transformers.
    roots = sorted(i for i, d in devices.items() if not d["upstream"])
    assert roots == sorted(
        [f"{s}/tx-{n}" for s in ("north", "south", "east") for n in (1, 2)] + ["east/gen-1"]
    )
