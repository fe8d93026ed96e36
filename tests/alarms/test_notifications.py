"""Webhook notifications against a real local HTTP server that fails, then recovers; the SSE stream read
by a real HTTP client from a real GridOS process."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridos.app import create_app
from tests.alarms.conftest import DEVICE, Feed
from tests.alarms.sse import Event, read_stream
from tests.alarms.test_conditions import eventually
from tests.conftest import Tokens
from tests.support.servers import start_gridos


class Sink:
    """An HTTP server on 127.0.0.1 answering 503 to the first `failures` requests, then 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests: list[tuple[str, Any]] = []
        self.received: list[Any] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                sink.requests.append((self.path, body))
                if len(sink.requests) <= sink.failures:
                    self.send_response(503)
                    self.end_headers()
                    return
                sink.received.append(body)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sinks() -> Iterator[tuple[Sink, Sink]]:
    hook, am = Sink(failures=3), Sink(failures=0)
    yield hook, am
    hook.close()
    am.close()


def test_webhook_retries_with_backoff_until_the_sink_recovers(
    alarm_env: dict[str, str],
    make_settings: Any,
    tokens: Tokens,
    sinks: tuple[Sink, Sink],
) -> None:
    hook, am = sinks
    settings = make_settings(
        alarm_env
        | {
            "GRIDOS_ALARMS_WEBHOOK_URLS": f"{hook.url}/hook",
            "GRIDOS_ALARMS_ALERTMANAGER_URLS": f"{am.url}/api/v2/alerts",
            "GRIDOS_ALARMS_RETRY_INITIAL_SECONDS": "0.05",
            "GRIDOS_ALARMS_EXTERNAL_URL": "https://gridos.example",
        }
    )
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        client.put(
            f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north", "rated_current": 400}
        ).raise_for_status()
        feed = Feed(client, tokens)
        feed.send(current=450)  # h activates
        feed.send(current=300)  # h clears
        (alarm,) = client.get("/api/v1/alarms").json()["items"]
        client.post(f"/api/v1/alarms/{alarm['id']}/ack", json={"comment": "ok"}).raise_for_status()

        eventually(lambda: len(hook.received) == 3)
        # Three 503s, then every transition once, in order, despite the retries.
        assert len(hook.requests) == 6
        assert [r["transition"]["action"] for r in hook.received] == ["activate", "clear", "ack"]
        assert all(r["kind"] == "alarm_transition" and r["version"] == 1 for r in hook.received)
        assert hook.received[2]["transition"]["comment"] == "ok"
        assert [body for _, body in hook.requests[:3]] == [hook.received[0]] * 3

        eventually(lambda: len(am.received) == 3)
        assert {path for path, _ in am.requests} == {"/api/v2/alerts"}
        firing, resolved, acked = (body[0] for body in am.received)
        assert firing["labels"] | {"alarm_id": "x"} == {
            "alertname": "GridOSAlarm",
            "alarm_id": "x",
            "device_id": DEVICE,
            "site": "north",
            "measurement": "current",
            "condition": "h",
            "priority": "medium",
            "severity": "medium",
        }
        assert firing["endsAt"] > firing["startsAt"]
        assert firing["generatorURL"] == f"https://gridos.example/api/v1/alarms/{alarm['id']}"
        assert resolved["annotations"]["state"] == "cleared_unacked"
        assert datetime.fromisoformat(resolved["endsAt"]) < datetime.now(UTC) + timedelta(minutes=1)
        assert acked["annotations"]["state"] == "normal"

        engine = client.app.state.services.engine  # type: ignore[attr-defined]

        def outbox() -> list[Any]:
            with engine.connect() as conn:
                return list(
                    conn.exec_driver_sql(
                        "SELECT sink, attempts, delivered_us IS NOT NULL FROM alarm_outbox ORDER BY id"
                    ).all()
                )

        rows = eventually(lambda: (rows := outbox()) and all(r[2] for r in rows) and rows)
        first_hook = next(r for r in rows if r[0].endswith("/hook"))
        assert first_hook[1] == 4 and len(rows) == 6


def test_dead_sink_never_blocks_ingest_and_keeps_transitions(
    alarm_env: dict[str, str], make_settings: Any, tokens: Tokens
) -> None:
    settings = make_settings(
        alarm_env
        | {
            "GRIDOS_ALARMS_WEBHOOK_URLS": "http://127.0.0.1:9/nothing-listens-here",
            "GRIDOS_ALARMS_RETRY_INITIAL_SECONDS": "0.05",
        }
    )
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        client.put(
            f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north", "rated_current": 400}
        ).raise_for_status()
        feed = Feed(client, tokens)
        for _ in range(5):
            feed.send(current=450)
            feed.send(current=300)
        engine = client.app.state.services.engine  # type: ignore[attr-defined]

        def failed_attempts() -> Any:
            with engine.connect() as conn:
                return conn.exec_driver_sql(
                    "SELECT count(*), min(attempts), max(last_error) FROM alarm_outbox WHERE delivered_us IS NULL"
                ).one()

        count, _, error = eventually(lambda: (r := failed_attempts())[1] is not None and r[2] and r)
        assert count == 10 and "ConnectError" in error


def test_sse_stream_read_by_a_real_client(tmp_path: Path) -> None:
    server = start_gridos(tmp_path, {"GRIDOS_ALARMS_SYNC_SECONDS": "0.1"}, start=False).start(timeout=180)
    with server, server.client() as admin:
        admin.put(
            f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north", "nominal_voltage": 11000}
        ).raise_for_status()
        received: list[Event] = []
        connected = threading.Event()

        def listen(headers: dict[str, str], want: int, into: list[Event]) -> None:
            read_stream(server.url, server.admin_token, want, into, connected, headers)

        listener = threading.Thread(target=listen, args=({}, 3, received))
        listener.start()
        assert connected.wait(30)
        t = datetime.now(UTC) - timedelta(seconds=30)
        with server.client(server.ingest_token) as ingest:
            for v in (11000, 11700, 11000):
                t += timedelta(seconds=1)
                ingest.post(
                    "/api/v1/scada/data", json={"device_id": DEVICE, "timestamp": t.isoformat(), "voltage": v}
                ).raise_for_status()
        alarm_id = admin.get("/api/v1/alarms").json()["items"][0]["id"]
        admin.post(f"/api/v1/alarms/{alarm_id}/ack", json={"comment": "seen"}).raise_for_status()
        listener.join(20)
        assert not listener.is_alive()
        assert [(e, d["action"], d["to_state"]) for _, e, d in received] == [
            ("transition", "activate", "active_unacked"),
            ("transition", "clear", "cleared_unacked"),
            ("transition", "ack", "normal"),
        ]
        assert received[0][2]["alarm"]["value"] == 11700
        assert [int(i) for i, _, _ in received] == [d["id"] for _, _, d in received]

        # Resuming with Last-Event-ID replays what came after it from the journal.
        replay: list[Event] = []
        listen({"Last-Event-ID": received[0][0]}, 2, replay)
        assert [d["action"] for _, _, d in replay] == ["clear", "ack"]
