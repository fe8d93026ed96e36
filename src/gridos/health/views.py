"""Health endpoints: JSON bodies, 200 or 503, no authentication (probes and load balancers call them).

An anonymous caller learns whether each check passes and nothing else: database errors name hosts and
ports, connector checks list field endpoints. A caller with any valid API credential gets the details.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from gridos import __version__, deps
from gridos.errors import Unauthorized
from gridos.health.service import HealthChecker
from gridos.security import authenticate

router = APIRouter(tags=["health"])


class Check(BaseModel):
    """One check: `status` always; the details (errors, endpoints, latencies) only for an authenticated
    caller."""

    model_config = ConfigDict(extra="allow")
    status: str | None = Field(description="healthy / unhealthy / connected / disabled / ...")


class Live(BaseModel):
    status: Literal["alive"]
    version: str


class Ready(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]


class Aggregate(BaseModel):
    status: Literal["healthy", "unhealthy"]
    version: str
    checks: dict[str, Check]


class DatabaseCheck(Check):
    """`status` alone for an anonymous caller; an authenticated one also gets the backend, latency and
    schema revision, or the error."""

    backend: str | None = None
    latency_ms: float | None = None
    schema_revision: str | None = None
    schema_head: str | None = None
    schema_current: bool | None = None
    error: str | None = None


Health = Annotated[HealthChecker, Depends(deps.health)]


def _json(body: dict[str, Any], ok: bool) -> JSONResponse:
    return JSONResponse(body, status_code=200 if ok else 503)


def authenticated(request: Request) -> bool:
    """Whether the request carries a valid credential (no header, or a bad one, is simply anonymous)."""
    if "authorization" not in request.headers:
        return False
    try:
        authenticate(request)
    except Unauthorized:
        return False
    return True


def _summary(check: dict[str, Any]) -> dict[str, Any]:
    return {"status": check.get("status")}


def _checks(checks: dict[str, Any], detailed: bool) -> dict[str, Any]:
    return checks if detailed else {name: _summary(check) for name, check in checks.items()}


@router.get("/health/live", response_model=Live)
def live() -> dict[str, str]:
    return {"status": "alive", "version": __version__}


@router.get("/health/ready", response_model=Ready)
async def ready(request: Request, health: Health) -> JSONResponse:
    body = await run_in_threadpool(health.readiness)
    ok = body["status"] == "ready"
    return _json({"status": body["status"], "checks": _checks(body["checks"], authenticated(request))}, ok)


async def _db(request: Request, health: Health) -> JSONResponse:
    body = await run_in_threadpool(health.database)
    ok = body["status"] == "healthy"
    return _json(body if authenticated(request) else _summary(body), ok)


router.add_api_route("/health/db", _db, methods=["GET"], response_model=DatabaseCheck)
router.add_api_route(
    "/api/v1/health/db",
    _db,
    methods=["GET"],
    response_model=DatabaseCheck,
    summary="Database health (seed 000 contract)",
)


@router.get("/health", response_model=Aggregate)
async def aggregate(request: Request, health: Health) -> JSONResponse:
    readiness = await run_in_threadpool(health.readiness)
    ok = readiness["status"] == "ready"
    body = {
        "status": "healthy" if ok else "unhealthy",
        "version": __version__,
        "checks": _checks(readiness["checks"], authenticated(request)),
    }
    return _json(body, ok)
