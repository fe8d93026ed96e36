"""The HTTP edge: problem+json errors, request ids, metrics by route template, fault injection."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridos.deps import services
from gridos.errors import GridosError, InvalidInput, PayloadTooLarge
from gridos.observability.logging import ACCESS_LOGGER, request_id_var
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.http")
access_log = logging.getLogger(ACCESS_LOGGER)
PROBLEM = "application/problem+json"


def problem(
    status: int,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **ext: Any,
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(ext)
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if status >= 500 and status != 503:
        # The server may be in a bad state for this connection (uvicorn closes it after an unhandled
        # error): say so, so that a pooled client opens a new one instead of failing its next request.
        headers["Connection"] = "close"
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers or None)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GridosError)
    async def _domain(request: Request, exc: GridosError) -> JSONResponse:
        headers = _close_if_unread(request, {})
        return problem(exc.status, exc.title, exc.detail, request.url.path, headers, **exc.extensions)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "field": ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path")) or None,
                "in": e["loc"][0] if e["loc"] else None,
                "message": e["msg"],
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": None, "message": "invalid request"}
        return problem(
            422,
            "Invalid input",
            f"field {first['field']}: {first['message']}",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Starlette's headers (Allow on 405) are part of the answer.
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed(request)
        return problem(
            exc.status_code,
            _TITLES.get(exc.status_code, "Error"),
            str(exc.detail),
            request.url.path,
            _close_if_unread(request, headers),
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if isinstance(exc, DataError) and "NUL" in str(exc.orig):
            # A body string with a NUL character (PostgreSQL refuses them; parameters are checked earlier).
            return problem(
                422,
                "Invalid input",
                "text values may not contain NUL characters",
                request.url.path,
                errors=[{"field": None, "message": "NUL character"}],
            )
        # A dependency failure: nothing was acknowledged, the client should retry later.
        if not exc.connection_invalidated and not isinstance(exc, OperationalError):
            return await _unexpected(request, exc)
        log.warning("database unavailable", extra={"path": request.url.path, "error": str(exc.orig)[:200]})
        response = problem(
            503, "Service unavailable", "the database is unavailable; retry later", request.url.path
        )
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(500, "Internal error", "the server failed to handle this request", request.url.path)


_TITLES = {
    404: "Not found",
    405: "Method not allowed",
    413: "Payload too large",
    401: "Unauthorized",
    415: "Unsupported media type",
}
_BODY_UNREAD = "gridos.body_unread"


def _allowed(request: Request) -> str:
    """Every method some route accepts on this path: Starlette names only the first matching route's
    (GET and POST on /api/v1/scada/data are two routes)."""
    allowed = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        scope = {**request.scope, "method": method}
        if any(route.matches(scope)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _close_if_unread(request: Request, headers: dict[str, str]) -> dict[str, str]:
    """Refused before the whole body was read: the rest of it is still on the wire, so this connection
    cannot carry another request; say so."""
    if request.scope.get(_BODY_UNREAD):
        headers["Connection"] = "close"
    return headers


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def body_limit(setting: str) -> dict[str, Any]:
    """`openapi_extra` for a route whose body may be larger than GRIDOS_MAX_REQUEST_BODY_BYTES: the name of
    the Settings field holding its limit (documented in the OpenAPI as x-max-body-bytes-setting)."""
    return {"x-max-body-bytes-setting": setting}


def _refuse_nul(request: Request) -> None:
    """PostgreSQL cannot store or compare text with NUL characters (SQLite can): refuse them in every
    query and path parameter, the same on both backends, rather than fail in the driver."""
    params = [("query", k, v) for k, v in request.query_params.multi_items()]
    params += [("path", k, str(v)) for k, v in request.path_params.items()]
    for where, name, value in params:
        if "\x00" in value:
            raise InvalidInput(
                f"{where} parameter {name!r} contains a NUL character",
                errors=[{"field": name, "in": where, "message": "NUL character"}],
            )


class BodyTooLarge(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(413, detail)


class GuardedRoute(APIRoute):
    """Every /api/v1 route: before FastAPI reads and parses a request body, the caller must be
    authenticated (any valid credential; the route's own dependency checks the role) and the body must
    fit the route's limit, by Content-Length at once and by counting while it streams. An anonymous or
    oversized upload therefore costs neither memory nor parsing."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        setting = (self.openapi_extra or {}).get("x-max-body-bytes-setting", "max_request_body_bytes")

        async def guarded(request: Request) -> Response:
            _refuse_nul(request)
            if request.method not in _BODY_METHODS:
                return await handler(request)
            from gridos.security import authenticate

            limit: int = getattr(services(request).settings, setting)
            length = request.headers.get("content-length")
            request.scope[_BODY_UNREAD] = length != "0" and (
                length is not None or "transfer-encoding" in request.headers
            )
            if length is not None and length.isdigit() and int(length) > limit:
                raise PayloadTooLarge(
                    f"body of {int(length)} bytes exceeds the limit of {limit}", limit=limit
                )
            authenticate(request)
            received = 0
            receive = request.receive

            async def limited() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        # An HTTPException: FastAPI turns any other error while reading a body into 400.
                        raise BodyTooLarge(f"body exceeds the limit of {limit} bytes")
                    if not message.get("more_body", False):
                        request.scope[_BODY_UNREAD] = False
                return message

            return await handler(Request(request.scope, limited, request._send))

        return guarded


class InjectedFault(GridosError):
    status = 500
    title = "Injected fault"


async def fault_injection(request: Request) -> None:
    """GRIDOS_FAULT_ERROR_RATE / GRIDOS_FAULT_LATENCY_MS, off by default: a bad build on demand, so that
    canary analysis can be proven to catch one. A dependency (not middleware) so the failed request still
    carries its route template in the metrics."""
    settings = services(request).settings
    if settings.fault_latency_ms:
        await asyncio.sleep(settings.fault_latency_ms / 1000.0)
    if settings.fault_error_rate and random.random() < settings.fault_error_rate:
        raise InjectedFault("GRIDOS_FAULT_ERROR_RATE is set")


def api_router(prefix: str, tags: list[str]) -> APIRouter:
    """Every /api/v1 router is made here, so fault injection reaches all API routes and no probe."""
    return APIRouter(
        prefix=prefix, tags=list(tags), dependencies=[Depends(fault_injection)], route_class=GuardedRoute
    )


class EdgeMiddleware:
    """Pure ASGI (no BaseHTTPMiddleware) so it adds little to every request and never buffers streams."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = headers.get(b"x-request-id", b"").decode("latin-1")[:128] or uuid.uuid4().hex
        token = request_id_var.set(rid)
        status = 500
        path: str = scope["path"]

        started_response = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                started_response = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            # Answered here rather than by Starlette's outermost handler, which re-raises after answering
            # and makes the server drop the connection without saying so.
            log.exception("unhandled error", extra={"path": path})
            if started_response:
                raise
            response = problem(500, "Internal error", "the server failed to handle this request", path)
            await response(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.http_requests.labels(method=method, route=route, status=str(status)).inc()
            self.metrics.http_duration.labels(method=method, route=route).observe(elapsed)
            if not path.startswith(("/health", "/metrics")) and access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "request",
                    extra={
                        "method": method,
                        "route": route,
                        "path": path,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    },
                )
            request_id_var.reset(token)


# -- parameter types shared by the API routes --------------------------------------------------------
# Row ids are 32-bit integer columns: a larger id cannot exist, and a driver refuses to bind it.
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="row id (1 to 2^31-1)")]
Offset = Annotated[int, Query(ge=0, le=MAX_ROW_ID)]
# Times are stored as microseconds since 1970 in 64-bit integers, and windows are computed around them:
# refuse what cannot be stored rather than overflow while computing.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _bounded(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    if not EARLIEST <= aware <= LATEST:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d} (UTC)")
    return aware


# Usage: Annotated[datetime | None, Query(...), Time]
Time = AfterValidator(_bounded)
