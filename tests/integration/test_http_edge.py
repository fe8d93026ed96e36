"""Issue 16, items 6, 9 and 10 on both backends: input that used to answer 500 answers a 4xx problem+json
naming what is wrong; ingest checks its media type and duplicate keys; the contract (OpenAPI, times,
Allow) is the same whatever the backend."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from fastapi.testclient import TestClient

from gridos.app import create_app
from tests.support.postgres import free_port
from tests.support.tokens import Tokens

DEVICE = "lab/meter-1"


@pytest.fixture
def api(client: TestClient) -> TestClient:
    r = client.put(f"/api/v1/devices/{DEVICE}", json={"type": "meter", "site": "lab", "nominal_voltage": 230})
    assert r.status_code == 201, r.text
    return client


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["detail"]
    if field is not None:
        assert field in {e.get("field") for e in body.get("errors", [])}, body
    return body


# -- item 6: 500s that are client errors ---------------------------------------------------------------
@pytest.mark.parametrize("depth", [5_000, 100_000])
def test_deeply_nested_json_is_422(api: TestClient, depth: int) -> None:
    for body in ("[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth):
        r = api.post("/api/v1/scada/data", content=body, headers={"Content-Type": "application/json"})
        assert "nested too deeply" in assert_problem(r, 422)["detail"]
        r = api.post(
            "/api/v1/scada/data",
            content=b'{"device_id": "lab/meter-1", "voltage": 230}\n' + body.encode(),
            headers={"Content-Type": "application/x-ndjson"},
        )
        assert assert_problem(r, 422)["detail"].startswith("line 2: ")
    # The process is fine afterwards.
    r = api.post("/api/v1/scada/data", json={"device_id": DEVICE, "voltage": 230})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("field", ["site", "tags", "type", "expected_interval_s", "upstream"])
def test_patch_null_for_a_required_field_is_422(api: TestClient, field: str) -> None:
    r = api.patch(f"/api/v1/devices/{DEVICE}", json={field: None})
    assert_problem(r, 422, field)
    assert api.get(f"/api/v1/devices/{DEVICE}").json()["site"] == "lab"
    # null still removes an optional rating.
    r = api.patch(f"/api/v1/devices/{DEVICE}", json={"nominal_voltage": None})
    assert r.status_code == 200 and r.json()["nominal_voltage"] is None


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/api/v1/alarms/2147483648"),
        ("GET", "/api/v1/alarms/9223372036854775808"),
        ("GET", "/api/v1/alarms/99999999999999999999999"),
        ("POST", "/api/v1/alarms/9223372036854775808/ack"),
        ("POST", "/api/v1/alarms/2147483648/shelve"),
        ("POST", "/api/v1/alarms/9223372036854775808/suppress"),
        ("GET", "/api/v1/alarm-rules/9223372036854775808"),
        ("PUT", "/api/v1/alarm-rules/2147483648"),
        ("DELETE", "/api/v1/alarm-rules/9223372036854775808"),
        ("GET", "/api/v1/alarms/history?before_id=1180591620717411303424"),
        ("GET", "/api/v1/alarms/history?alarm_id=2147483648"),
        ("GET", "/api/v1/alarm-rules/audit?rule_id=9223372036854775808"),
        ("GET", "/api/v1/devices?offset=9223372036854775808"),
        ("GET", "/api/v1/alarms?offset=9223372036854775808"),
        ("GET", f"/api/v1/scada/data?device_id={DEVICE}&step=99999999999999999999d"),
        ("GET", f"/api/v1/scada/data?device_id={DEVICE}&to=0001-01-01T00:00:00Z"),
        ("GET", f"/api/v1/scada/data?device_id={DEVICE}&from=0001-01-01T00:00:00Z"),
        ("GET", f"/api/v1/scada/data?device_id={DEVICE}&to=9999-12-31T23:59:59Z"),
        ("GET", "/api/v1/alarms/history?from=0001-01-01T00:00:00Z"),
        ("GET", "/api/v1/alarms/events?to=0001-01-01T00:00:00Z"),
    ],
)
def test_out_of_range_numbers_and_times_are_422(api: TestClient, method: str, path: str) -> None:
    r = api.request(method, path, json={"kind": "timed", "duration_s": 60} if "shelve" in path else None)
    assert_problem(r, 422)


def test_sse_resume_with_an_absurd_last_event_id_is_ignored(api: TestClient) -> None:
    with api.stream("GET", "/api/v1/alarms/stream", headers={"Last-Event-ID": "9223372036854775808"}) as r:
        assert r.status_code == 200
        assert next(r.iter_bytes()).startswith(b"retry:")


def test_unexpected_error_closes_the_connection_cleanly(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    """A real server: after an unexpected error the answer is a problem+json 500 that says
    `Connection: close`, and a pooled client's next request succeeds."""
    app = create_app(make_settings())

    @app.get("/api/v1/test-boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=tokens.header("admin")) as c:
            for _ in range(100):
                try:
                    if c.get("/health/live").status_code == 200:
                        break
                except httpx.TransportError:
                    threading.Event().wait(0.1)
            r = c.get("/api/v1/test-boom")
            assert_problem(r, 500)
            assert r.headers["connection"] == "close"
            assert "a bug" not in r.text
            for _ in range(3):
                assert c.get("/api/v1/devices").status_code == 200
    finally:
        server.should_exit = True
        thread.join(10)


# -- item 9: media type and duplicate keys ------------------------------------------------------------
@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_ingest_refuses_other_media_types(api: TestClient, content_type: str | None) -> None:
    body = orjson.dumps({"device_id": DEVICE, "voltage": 230})
    headers = {"Content-Type": content_type} if content_type else {}
    r = api.post("/api/v1/scada/data", content=body, headers=headers)
    problem = assert_problem(r, 415)
    assert "application/json" in problem["detail"]
    latest = api.get(f"/api/v1/devices/{DEVICE}/latest").json()["measurements"]
    assert latest == {}


def test_ingest_accepts_json_with_charset_and_ndjson(api: TestClient) -> None:
    body = orjson.dumps({"device_id": DEVICE, "voltage": 230})
    for content_type in ("application/json; charset=utf-8", "application/x-ndjson", "Application/JSON"):
        r = api.post("/api/v1/scada/data", content=body, headers={"Content-Type": content_type})
        assert r.status_code == 200, (content_type, r.text)


def test_ingest_refuses_duplicate_keys(api: TestClient) -> None:
    body = b'{"device_id": "lab/meter-1", "voltage": 230, "voltage": 400}'
    for content_type, payload in (
        ("application/json", body),
        ("application/json", b"[" + body + b"]"),
        ("application/x-ndjson", b'{"device_id": "lab/meter-1", "voltage": 230}\n' + body),
        # Compact JSON (the fast decoder's case), a space before one colon (its key count would miss that
        # key), and a `":` inside a string (one more than the keys).
        ("application/json", b'[{"device_id":"lab/meter-1","voltage":230,"voltage":400}]'),
        ("application/json", b'{"device_id":"lab/meter-1","voltage" :230,"voltage":400}'),
        ("application/json", b'{"device_id":"lab/meter-1","voltage":230,"voltage":4,"quality":"\\":"}'),
    ):
        r = api.post("/api/v1/scada/data", content=payload, headers={"Content-Type": content_type})
        problem = assert_problem(r, 422)
        assert "'voltage' appears twice" in problem["detail"], problem
    assert api.get(f"/api/v1/devices/{DEVICE}/latest").json()["measurements"] == {}


# -- item 10: the contract ----------------------------------------------------------------------------
def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_openapi_has_no_dangling_refs_and_documents_the_ingest_body(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for ref in set(_refs(spec)):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.removeprefix("#/components/schemas/") in schemas, ref
    sample = schemas["SampleIn"]
    assert sample["required"] == ["device_id"]
    assert {"voltage", "frequency", "breaker_closed", "timestamp", "quality"} <= set(sample["properties"])
    assert sample["additionalProperties"] is False


def test_times_carry_an_offset_on_every_backend(api: TestClient) -> None:
    device = api.get(f"/api/v1/devices/{DEVICE}").json()
    listed = api.get("/api/v1/devices").json()["items"][0]
    for value in (device["created_at"], device["updated_at"], listed["created_at"], listed["updated_at"]):
        assert value.endswith("Z") or value.endswith("+00:00"), value
    api.post("/api/v1/scada/data", json={"device_id": DEVICE, "voltage": 230}).raise_for_status()
    latest = api.get(f"/api/v1/devices/{DEVICE}/latest").json()["measurements"]["voltage"]
    assert latest["ts"].endswith("Z") and latest["received_at"].endswith("Z"), latest


def test_405_says_which_methods_are_allowed(api: TestClient) -> None:
    r = api.delete("/api/v1/scada/status")
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET"
    r = api.put("/api/v1/scada/data", json={})
    assert_problem(r, 405)
    assert r.headers["allow"] == "GET, POST"


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/alarms?site=north%00",
        "/api/v1/devices?site=%00",
        "/api/v1/scada/data?device_id=lab/meter-1%00",
        "/api/v1/devices/lab%00meter",
        "/api/v1/alarm-rules/effective/lab%00",
    ],
)
def test_nul_in_a_parameter_is_422_on_both_backends(api: TestClient, path: str) -> None:
    assert "NUL" in assert_problem(api.get(path), 422)["detail"]


def test_nul_in_a_body_string_is_never_a_500(api: TestClient, database_url: str) -> None:
    r = api.patch(f"/api/v1/devices/{DEVICE}", json={"name": "feeder\u0000one"})
    if database_url.startswith("postgresql"):
        assert_problem(r, 422)
    else:
        assert r.status_code == 200, r.text  # SQLite stores it as given
