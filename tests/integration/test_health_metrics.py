"""Health endpoints, Prometheus metrics (names are a contract), fault injection."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gridos.app import create_app
from tests.conftest import Tokens


def families(client: TestClient) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    return {f.name: f for f in text_string_to_metric_families(r.text)}


def test_health_endpoints(client: TestClient) -> None:
    for path in ("/health", "/health/live", "/health/ready", "/health/db"):
        r = client.get(path, headers={"Authorization": ""})
        assert r.status_code == 200, (path, r.text)
    assert client.get("/api/v1/health/db").json()["status"] == "healthy"
    ready = client.get("/health/ready").json()
    assert ready["checks"]["database"]["schema_current"] is True


def test_readiness_fails_when_schema_is_behind(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    app = create_app(make_settings())
    with TestClient(app, headers=tokens.header("viewer")) as c:
        with app.state.services.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
        r = c.get("/health/ready")
        assert r.status_code == 503
        assert r.json()["checks"]["database"]["schema_current"] is False
        assert c.get("/health/live").status_code == 200
        assert c.get("/api/v1/health/db").json()["status"] == "unhealthy"


def test_readiness_fails_when_database_is_unreachable(tokens: Tokens) -> None:
    from gridos.config import Settings

    settings = Settings(
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        auto_migrate=False,
        api_tokens=f"viewer:{tokens.viewer}",
    )
    with TestClient(create_app(settings), headers=tokens.header("viewer")) as c:
        r = c.get("/health/ready")
        assert r.status_code == 503 and "error" in r.json()["checks"]["database"]
        assert c.get("/health").status_code == 503
        assert c.get("/health/live").status_code == 200
        # Anyone may probe readiness, but only an authenticated caller learns where the database is.
        for path in ("/health/ready", "/health", "/health/db", "/api/v1/health/db"):
            for headers in ({"Authorization": ""}, {"Authorization": "Bearer wrong"}):
                r = c.get(path, headers=headers)
                assert r.status_code == 503, path
                assert "127.0.0.1" not in r.text and "error" not in r.text, (path, r.text)
                assert r.json()["status"] in ("not_ready", "unhealthy")


def test_anonymous_readiness_lists_no_endpoints(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    """Connector checks (MQTT broker, Modbus endpoints) stay behind authentication too."""
    app = create_app(make_settings())
    app.state.services.health.extra["modbus"] = lambda: {
        "status": "healthy",
        "endpoints": {"10.1.2.3:502": "up"},
    }
    with TestClient(app) as c:
        anonymous = c.get("/health/ready")
        assert anonymous.status_code == 200
        body = anonymous.json()
        assert body["status"] == "ready"
        assert body["checks"]["modbus"] == {"status": "healthy"}
        assert body["checks"]["database"] == {"status": "healthy"}
        assert all(set(check) == {"status"} for check in body["checks"].values()), body
        detailed = c.get("/health/ready", headers=tokens.header("ingest")).json()
        assert detailed["checks"]["modbus"]["endpoints"] == {"10.1.2.3:502": "up"}
        assert detailed["checks"]["database"]["schema_current"] is True


def test_anonymous_metrics_name_no_sites(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings())
    with TestClient(app, headers=tokens.header("admin")) as c:
        c.put("/api/v1/devices/substation-zeta/m1", json={"type": "meter", "site": "substation-zeta"})
        c.post(
            "/api/v1/scada/data",
            json={"device_id": "substation-zeta/m1", "voltage": 230},
            headers=tokens.header("ingest"),
        ).raise_for_status()
        from gridos.app import _refresh_gauges

        _refresh_gauges(app.state.services)
        full = c.get("/metrics")
        anonymous = c.get("/metrics", headers={"Authorization": ""})
        wrong = c.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert 'site="substation-zeta"' in full.text
    for r in (anonymous, wrong):
        assert r.status_code == 200
        assert "substation-zeta" not in r.text
        names = {f.name for f in text_string_to_metric_families(r.text)}
        # Everything the SLO rules and the canary gate need stays public.
        assert {"http_requests", "http_request_duration_seconds", "gridos_db_up"} <= names
        families = {f.name: f for f in text_string_to_metric_families(r.text)}
        # Declared (the set of names does not depend on who asks), but without a single sample.
        assert families["gridos_devices"].samples == []
        assert families["gridos_site_measurement"].samples == []


def test_metrics_contract(client: TestClient) -> None:
    client.put("/api/v1/devices/a/b", json={"type": "meter", "site": "a"})
    client.post("/api/v1/scada/data", json={"device_id": "a/b", "voltage": 230, "current": 5})
    client.get("/api/v1/devices/a/b/latest")
    client.get("/api/v1/devices/zzz")
    fams = families(client)
    requests = {
        (s.labels["method"], s.labels["route"], s.labels["status"]): s.value
        for s in fams["http_requests"].samples
        if s.name == "http_requests_total"
    }
    # The route label is the template, never the raw path.
    assert requests[("GET", "/api/v1/devices/{device_id:path}/latest", "200")] == 1
    assert requests[("GET", "/api/v1/devices/{device_id:path}", "404")] == 1
    assert not any("a/b" in route for _, route, _ in requests)
    buckets = {
        s.labels["le"] for s in fams["http_request_duration_seconds"].samples if s.name.endswith("_bucket")
    }
    assert {"0.2", "0.25", "0.3"} <= buckets
    ingested = [s.value for s in fams["gridos_samples_ingested"].samples if s.name.endswith("_total")]
    assert ingested == [2.0]
    for name in (
        "gridos_build_info",
        "gridos_ingest_batch_size",
        "gridos_ingest_duration_seconds",
        "gridos_db_pool_size",
        "gridos_db_up",
        "process_cpu_seconds",
        "gridos_active_alarms",
        "gridos_alarm_transitions",
        "gridos_alarm_latency_seconds",
        "gridos_connector_up",
    ):
        assert name in fams, name


def test_fault_injection_errors(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(fault_error_rate=1.0))
    with TestClient(app, headers=tokens.header("admin")) as c:
        r = c.get("/api/v1/devices")
        assert r.status_code == 500 and r.json()["title"] == "Injected fault"
        assert c.get("/health/ready").status_code == 200  # probes are never faulted
        fams = families(c)
    statuses = {
        (s.labels["route"], s.labels["status"])
        for s in fams["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert ("/api/v1/devices", "500") in statuses


def test_fault_injection_latency(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    app = create_app(make_settings(fault_latency_ms=300))
    with TestClient(app, headers=tokens.header("admin")) as c:
        assert c.get("/api/v1/devices").status_code == 200
        fams = families(c)
    # The request landed above the 250 ms bucket: the p95 gate would see it. (No upper bound: how much
    # longer a loaded machine takes is not what this test is about.)
    le = {
        s.labels["le"]: s.value
        for s in fams["http_request_duration_seconds"].samples
        if s.name.endswith("_bucket") and s.labels["route"] == "/api/v1/devices"
    }
    assert le["0.25"] == 0 and le["+Inf"] == 1


def test_request_id_is_echoed(client: TestClient) -> None:
    r = client.get("/api/v1/devices", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/health/live").headers["x-request-id"]) == 32


def test_openapi_served(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/v1/scada/data" in spec["paths"]
    assert client.get("/docs").status_code == 200
