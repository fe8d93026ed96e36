"""The HTTP server edge: the listening socket, bound before anything else starts, and uvicorn's HTTP
protocol with the limits uvicorn lacks.

uvicorn has no cap on open connections and no timeout for a client that opens a connection and sends
half a request: 21,000 idle half-sent requests exhausted the descriptors and normal requests failed. And
on SIGTERM it waits for every open response, so one Server-Sent Events stream held the whole grace period.
`GuardedHttpProtocol` adds, per process:

- a connection limit: beyond GRIDOS_MAX_CONNECTIONS a new connection gets 503 (problem+json, Retry-After)
  and is closed at once, so descriptors stay bounded;
- a header timeout (GRIDOS_HEADER_TIMEOUT_SECONDS, the whole request head, like nginx's
  client_header_timeout) and a body timeout (GRIDOS_BODY_TIMEOUT_SECONDS between two reads of the body,
  like client_body_timeout): the client gets 408 and the connection is closed;
- on graceful shutdown, open `text/event-stream` responses are ended cleanly (the client reconnects with
  Last-Event-ID to another replica) instead of holding the drain until the grace period runs out.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gridos.config import Settings


class BindError(OSError):
    """The listening address cannot be used (taken, not local, no permission)."""


def bind_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """Bind and listen before any connector, simulator or database work starts: a GridOS that cannot
    take its port must exit without having touched anything."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        raise BindError(exc.errno, f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)  # uvicorn's worker processes serve the same socket
    return sock


def _problem(status: int, title: str, detail: str, extra: bytes = b"") -> bytes:
    body = (
        f'{{"type": "about:blank", "title": "{title}", "status": {status}, "detail": "{detail}"}}'
    ).encode()
    return (
        f"HTTP/1.1 {status} {title}\r\n".encode()
        + b"content-type: application/problem+json\r\n"
        + extra
        + b"content-length: "
        + str(len(body)).encode()
        + b"\r\nconnection: close\r\n\r\n"
        + body
    )


TOO_MANY_CONNECTIONS = _problem(
    503, "Service Unavailable", "too many open connections; retry shortly", b"retry-after: 1\r\n"
)
REQUEST_TIMEOUT = _problem(408, "Request Timeout", "the request was not received in time")


class GuardedHttpProtocol(HttpToolsProtocol):
    # Per process; `configure` sets them from the settings, or each uvicorn worker process reads them
    # from its GRIDOS_* environment on its first connection.
    max_connections: int | None = None
    header_timeout: float = 10.0
    body_timeout: float = 30.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.max_connections = settings.max_connections
        cls.header_timeout = settings.header_timeout_seconds
        cls.body_timeout = settings.body_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if GuardedHttpProtocol.max_connections is None:
            GuardedHttpProtocol.configure(Settings())
        self._deadline: asyncio.TimerHandle | None = None
        self._event_stream = False
        self._refused = False

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete or not self.cycle.response_started:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > (self.max_connections or 0):
            # Answer, half-close, and discard what the client sends for a moment before closing: closing
            # with its request unread would reset the connection and lose the 503.
            self._refused = True
            transport.write(TOO_MANY_CONNECTIONS)
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(1.0, transport.close)
            return
        self._arm(self.header_timeout)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm(self.header_timeout)  # the next request on a kept-alive connection

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._arm(self.body_timeout)  # cancelled by on_message_complete, at once when there is no body
        cycle = self.cycle
        if cycle is None or cycle.scope is not self.scope:  # an upgrade: no HTTP response cycle
            return
        send = cycle.send

        async def watch_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                ctype = dict(message.get("headers") or []).get(b"content-type", b"")
                self._event_stream = ctype.startswith(b"text/event-stream")
            await send(message)

        # run_asgi looks `send` up when its task first runs, which is after this callback.
        cycle.send = watch_send  # type: ignore[method-assign]

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def shutdown(self) -> None:
        cycle = self.cycle
        if self._event_stream and cycle is not None and not cycle.response_complete:
            # End the stream: the app sees a disconnect (Starlette cancels the generator) and the client
            # gets a complete chunked response, then a closed connection.
            cycle.disconnected = True
            cycle.message_event.set()
            if not self.transport.is_closing():
                self.transport.write(b"0\r\n\r\n")
                self.transport.close()
            return
        super().shutdown()
