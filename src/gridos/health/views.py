"""Health endpoints: JSON bodies, 200 or 503, no authentication (probes and load balancers call them).

An anonymous caller learns whether each check passes and nothing else: database errors name hosts and
ports, connector checks list field endpoints. A caller with any valid API credential gets the details.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gridos import __version__
from gridos.errors import Unauthorized
from gridos.security import authenticate

router = APIRouter(tags=["health"])


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


@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "alive", "version": __version__}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    body = await run_in_threadpool(request.app.state.health.readiness)
    ok = body["status"] == "ready"
    return _json({"status": body["status"], "checks": _checks(body["checks"], authenticated(request))}, ok)


async def _db(request: Request) -> JSONResponse:
    body = await run_in_threadpool(request.app.state.health.database)
    ok = body["status"] == "healthy"
    return _json(body if authenticated(request) else _summary(body), ok)


router.add_api_route("/health/db", _db, methods=["GET"])
router.add_api_route("/api/v1/health/db", _db, methods=["GET"], summary="Database health (docs/contract.md)")


@router.get("/health")
async def aggregate(request: Request) -> JSONResponse:
    readiness = await run_in_threadpool(request.app.state.health.readiness)
    ok = readiness["status"] == "ready"
    body = {
        "status": "healthy" if ok else "unhealthy",
        "version": __version__,
        "checks": _checks(readiness["checks"], authenticated(request)),
    }
    return _json(body, ok)
