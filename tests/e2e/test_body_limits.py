"""Issue 16, item 7, against a real process: request bodies are refused by Content-Length and while they
stream, before anything is buffered or parsed, and an anonymous caller is refused before its body is read.
Measured where it matters: the resident memory of the GridOS process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.servers import GridosServer, start_gridos

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
CHUNK = b"x" * MIB


def rss_mib(server: GridosServer) -> float:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def upload(
    server: GridosServer,
    path: str,
    total: int,
    token: str | None = None,
    content_length: bool = True,
    content_type: str = "application/json",
) -> tuple[int | None, int]:
    """Send a `total`-byte body over a raw socket (never held in memory here) as fast as the server takes
    it; returns (status of the answer, bytes the server let us send before answering and closing)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    head = [f"PUT {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Type: {content_type}"]
    if "scada/data" in path:
        head[0] = f"POST {path} HTTP/1.1"
    if token:
        head.append(f"Authorization: Bearer {token}")
    head.append(f"Content-Length: {total}" if content_length else "Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = bytearray()

    def read() -> None:
        try:
            while data := sock.recv(65536):
                answer.extend(data)
        except OSError:
            pass

    reader = threading.Thread(target=read)
    reader.start()
    sent = 0
    try:
        while sent < total and not answer:
            piece = CHUNK if content_length else b"%x\r\n%s\r\n" % (len(CHUNK), CHUNK)
            sock.sendall(piece)
            sent += len(CHUNK)
        if not content_length and sent >= total:
            sock.sendall(b"0\r\n\r\n")
    except OSError:
        pass  # the server answered and closed: the rest of the body was refused
    reader.join(30)
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
    return status, sent


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    with start_gridos(
        tmp_path_factory.mktemp("gridos"),
        {"GRIDOS_MAX_BODY_BYTES": str(4 * MIB), "GRIDOS_LOG_JSON": "false"},
        start=False,
    ).start(timeout=120) as s:
        yield s


def test_huge_bodies_are_refused_before_they_are_read(server: GridosServer) -> None:
    with server.client() as c:
        c.put("/api/v1/devices/lab/m1", json={"type": "meter", "site": "lab"}).raise_for_status()
        for _ in range(20):  # warm up: first requests allocate caches, pools, the JSON decoder
            c.post("/api/v1/scada/data", json={"device_id": "lab/m1", "voltage": 230}, headers={}).status_code
    time.sleep(0.5)
    before = rss_mib(server)

    # Anonymous, 512 MiB announced: refused at once, by Content-Length, whatever the route.
    assert upload(server, "/api/v1/devices/lab/m2", 512 * MIB)[0] == 413
    # Anonymous and streamed without a length: refused before the body is read.
    status, sent = upload(server, "/api/v1/devices/lab/m2", 512 * MIB, content_length=False)
    assert status == 401 and sent < 128 * MIB, (status, sent)
    status, sent = upload(server, "/api/v1/scada/data", 512 * MIB, content_length=False)
    assert status == 401 and sent < 128 * MIB, (status, sent)
    # Two at once.
    results: list[tuple[int | None, int]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(
                upload(server, "/api/v1/devices/lab/m3", 512 * MIB, content_length=False)
            )
        )
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert [r[0] for r in results] == [401, 401], results
    # Authenticated but over the route's limit while streaming: counted, refused at the limit.
    status, sent = upload(
        server, "/api/v1/scada/data", 512 * MIB, token=server.ingest_token, content_length=False
    )
    assert status == 413 and sent < 128 * MIB, (status, sent)
    status, sent = upload(
        server, "/api/v1/devices/lab/m2", 512 * MIB, token=server.admin_token, content_length=False
    )
    assert status == 413 and sent < 128 * MIB, (status, sent)

    time.sleep(0.5)
    grown = rss_mib(server) - before
    assert grown < 40, f"RSS grew by {grown:.0f} MiB"
    # And the server still serves.
    with server.client() as c:
        assert c.get("/api/v1/devices").status_code == 200
        r = c.post(
            "/api/v1/scada/data",
            json={"device_id": "lab/m1", "voltage": 231},
            headers={"Authorization": f"Bearer {server.ingest_token}"},
        )
        assert r.status_code == 200, r.text


def test_limit_refusals_are_problem_json(server: GridosServer) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        r = c.put(
            "/api/v1/devices/lab/m9",
            content=b"{" + b" " * (2 * MIB) + b"}",
            headers={"Authorization": f"Bearer {server.admin_token}", "Content-Type": "application/json"},
        )
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["limit"] == MIB
        r = c.put("/api/v1/devices/lab/m9", json={"type": "meter", "site": "lab"})
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
