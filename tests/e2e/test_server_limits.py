"""The server edge of a real `gridos serve`: a connection limit, header and body timeouts, and a SIGTERM
that does not wait for open Server-Sent Events streams."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import GridosServer, start_gridos
from tests.support.wait import eventually

MAX_CONNECTIONS = 4
HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    server = start_gridos(
        tmp_path_factory.mktemp("limits"),
        {
            "GRIDOS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
            "GRIDOS_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
            "GRIDOS_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        },
    )
    with server:
        yield server


def connect(server: GridosServer) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection (or the socket timeout fails the test)."""
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_connections_beyond_the_limit_get_503_and_are_closed(guarded: GridosServer) -> None:
    idle = [connect(guarded) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.3)  # let the server accept them
        with connect(guarded) as extra:
            extra.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_all(extra)
        assert answer.startswith(b"HTTP/1.1 503 ")
        assert b"retry-after: 1" in answer and b"application/problem+json" in answer
    finally:
        for sock in idle:
            sock.close()
    # Once they are gone, new connections are served again.
    eventually(
        lambda: httpx.get(f"{guarded.url}/health/live").status_code == 200, 10, "service again", interval=0.1
    )


def test_a_half_sent_request_head_is_timed_out(guarded: GridosServer) -> None:
    with connect(guarded) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")  # no blank line: the head never ends
        answer = read_all(sock)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert HEADER_TIMEOUT * 0.9 <= elapsed < HEADER_TIMEOUT + 8


def test_an_idle_connection_is_closed_after_the_header_timeout(guarded: GridosServer) -> None:
    with connect(guarded) as sock:
        started = time.monotonic()
        read_all(sock)
        assert time.monotonic() - started < HEADER_TIMEOUT + 8


def test_a_stalled_body_is_timed_out(guarded: GridosServer) -> None:
    with connect(guarded) as sock:
        sock.sendall(
            b"POST /api/v1/scada/data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + guarded.ingest_token.encode() + b"\r\n"
            b"Content-Length: 1000\r\n\r\n" + b'{"device_id": '
        )
        started = time.monotonic()
        answer = read_all(sock)
        elapsed = time.monotonic() - started
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")
    assert BODY_TIMEOUT * 0.9 <= elapsed < BODY_TIMEOUT + 8
    assert httpx.get(f"{guarded.url}/health/live").status_code == 200


def test_sigterm_ends_open_event_streams_at_once(tmp_path: Path) -> None:
    # A grace period long enough that waiting for it would fail the test.
    server = start_gridos(tmp_path, {"GRIDOS_SHUTDOWN_GRACE_SECONDS": "30"})
    received: list[bytes] = []
    ended = threading.Event()

    def listen() -> None:
        try:
            with (
                httpx.Client(timeout=60) as c,
                c.stream(
                    "GET",
                    f"{server.url}/api/v1/alarms/stream",
                    headers={"Authorization": f"Bearer {server.admin_token}"},
                ) as r,
            ):
                for chunk in r.iter_bytes():
                    received.append(chunk)
        except httpx.HTTPError as exc:
            received.append(repr(exc).encode())
        finally:
            ended.set()

    thread = threading.Thread(target=listen, daemon=True)
    try:
        thread.start()
        eventually(lambda: any(b"connected" in c for c in received), 15, "the stream to connect")
        assert server.proc is not None
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(25)
        elapsed = time.monotonic() - started
        assert code in (0, -signal.SIGTERM)
        assert elapsed < 8, f"shutdown took {elapsed:.1f} s"
        # The client saw a complete response (the chunked body was terminated), not a reset.
        assert ended.wait(5)
        assert not any(c.startswith(b"RemoteProtocolError") for c in received), received
    finally:
        server.kill()
