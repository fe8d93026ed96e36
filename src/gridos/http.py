"""The HTTP edge: problem+json errors, request ids, metrics by route template, fault injection."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gridos.errors import GridosError
from gridos.observability.logging import ACCESS_LOGGER, request_id_var
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.http")
access_log = logging.getLogger(ACCESS_LOGGER)
PROBLEM = "application/problem+json"


def problem(status: int, title: str, detail: str, instance: str | None = None, **ext: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update(ext)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GridosError)
    async def _domain(request: Request, exc: GridosError) -> JSONResponse:
        return problem(exc.status, exc.title, exc.detail, request.url.path, **exc.extensions)

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
        return problem(
            exc.status_code, _TITLES.get(exc.status_code, "Error"), str(exc.detail), request.url.path
        )

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
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


_TITLES = {404: "Not found", 405: "Method not allowed", 413: "Payload too large", 401: "Unauthorized"}


class InjectedFault(GridosError):
    status = 500
    title = "Injected fault"


async def fault_injection(request: Request) -> None:
    """GRIDOS_FAULT_ERROR_RATE / GRIDOS_FAULT_LATENCY_MS, off by default: a bad build on demand, so that
    canary analysis can be proven to catch one. A dependency (not middleware) so the failed request still
    carries its route template in the metrics."""
    settings = request.app.state.settings
    if settings.fault_latency_ms:
        await asyncio.sleep(settings.fault_latency_ms / 1000.0)
    if settings.fault_error_rate and random.random() < settings.fault_error_rate:
        raise InjectedFault("GRIDOS_FAULT_ERROR_RATE is set")


def api_router(prefix: str, tags: list[str]) -> APIRouter:
    """Every /api/v1 router is made here, so fault injection reaches all API routes and no probe."""
    return APIRouter(prefix=prefix, tags=list(tags), dependencies=[Depends(fault_injection)])


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

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
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
