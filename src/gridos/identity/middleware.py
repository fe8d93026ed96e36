"""Security headers on every response, and the audit record of every write.

Pure ASGI like gridos.http.EdgeMiddleware: nothing is buffered, streams pass through untouched.
"""

from __future__ import annotations

from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridos.identity.principal import Principal
from gridos.identity.service import IdentityService

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Telemetry ingest is the data itself (and thousands of requests a second): not an audit event.
NOT_AUDITED = frozenset({"/api/v1/scada/data"})
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
HTML_CSP = b"frame-ancestors 'none'"
HSTS = b"max-age=31536000; includeSubDomains"


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, identity: IdentityService) -> None:
        self.app = app
        self.identity = identity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, object] = scope.setdefault("state", {})
        tls = scope.get("scheme") == "https"
        status = 500
        request_id: str | None = None

        async def send_wrapper(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers: list[tuple[bytes, bytes]] = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
                for name, value in (
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    # A page that sets its own policy (the operator view) keeps it; everything else gets
                    # the strictest one: JSON never needs to run or embed anything.
                    (b"content-security-policy", HTML_CSP if html else API_CSP),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ):
                    if name not in present:
                        headers.append((name, value))
                if tls and b"strict-transport-security" not in present:
                    headers.append((b"strict-transport-security", HSTS))
                for k, v in headers:
                    if k.lower() == b"x-request-id":
                        request_id = v.decode("latin-1")
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_wrapper)
        if scope["method"] in WRITE_METHODS and not state.get("audited"):
            route = getattr(scope.get("route"), "path_format", None)  # /devices/{device_id}, no converter
            if route is not None and route not in NOT_AUDITED:
                await run_in_threadpool(self._record, scope, route, status, request_id)

    def _record(self, scope: Scope, route: str, status: int, request_id: str | None) -> None:
        principal = scope["state"].get("principal")
        client = scope.get("client")
        outcome = "ok" if status < 400 else "denied" if status in (401, 403, 429) else "failed"
        self.identity.audit.record(
            f"{scope['method']} {route}",
            outcome,
            principal if isinstance(principal, Principal) else None,
            client[0] if client else None,
            request_id,
            status=status,
            target=scope["path"],
        )
