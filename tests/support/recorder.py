"""A real HTTP server on 127.0.0.1 that records what is POSTed to it: the stand-in for a webhook, an
Alertmanager, Slack or an OTLP collector."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    body: bytes
    status: int  # what the server answered

    def json(self) -> Any:
        return json.loads(self.body)


class RecordingServer:
    """Records every POST and answers `status` with `body`; the first `failures` requests get 503 (a sink
    that fails, then recovers). `status` and `body` may be changed while it runs."""

    def __init__(self, status: int = 200, body: bytes = b"", failures: int = 0) -> None:
        self.status, self.body, self.failures = status, body, failures
        self.requests: list[Request] = []
        lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    failing = len(recorder.requests) < recorder.failures
                    status, answer = (503, b"") if failing else (recorder.status, recorder.body)
                    recorder.requests.append(Request(self.path, body, status))
                self.send_response(status)
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[Request]:
        """The requests answered with a 2xx, in order."""
        return [r for r in self.requests if 200 <= r.status < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> RecordingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
