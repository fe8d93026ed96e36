"""Tracing: off without an endpoint; with one, spans named by route template reach a real OTLP/HTTP receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from gridos.app import create_app
from gridos.config import Settings
from gridos.observability.tracing import otlp_traces_endpoint, setup_tracing


class Receiver:
    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.path == "/v1/traces":
                    receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def span_names(self) -> list[str]:
        return [
            span.name
            for req in self.requests
            for rs in req.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'g.db'}", api_tokens="admin:t0ken", auto_migrate=True
    )


def test_endpoint_precedence() -> None:
    assert otlp_traces_endpoint({}) is None
    assert (
        otlp_traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    )
    both = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://std:4318",
        "GRIDOS_OTEL_EXPORTER_OTLP_ENDPOINT": "http://g:4318",
    }
    assert otlp_traces_endpoint(both) == "http://g:4318/v1/traces"


def test_off_by_default(tmp_path: Path, receiver: Receiver) -> None:
    app = create_app(settings(tmp_path))
    assert setup_tracing(app, app.state.services.settings, environ={}) is None
    with TestClient(app) as client:
        client.get("/api/v1/devices", headers={"Authorization": "Bearer t0ken"})
    assert receiver.requests == []


def test_spans_reach_the_collector_named_by_route(tmp_path: Path, receiver: Receiver) -> None:
    app = create_app(settings(tmp_path))
    provider = setup_tracing(
        app, app.state.services.settings, environ={"GRIDOS_OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url}
    )
    assert provider is not None
    with TestClient(app) as client:
        assert client.get("/api/v1/devices", headers={"Authorization": "Bearer t0ken"}).status_code == 200
        client.get("/health/ready")
        provider.force_flush()
    names = receiver.span_names()
    assert "GET /api/v1/devices" in names
    assert not [n for n in names if "/health" in n]
