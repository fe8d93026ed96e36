"""Health endpoints: JSON bodies, 200 or 503, no authentication (probes and load balancers call them)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gridos import __version__

router = APIRouter(tags=["health"])


def _json(body: dict[str, Any], ok: bool) -> JSONResponse:
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "alive", "version": __version__}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    body = await run_in_threadpool(request.app.state.health.readiness)
    return _json(body, body["status"] == "ready")


async def _db(request: Request) -> JSONResponse:
    body = await run_in_threadpool(request.app.state.health.database)
    return _json(body, body["status"] == "healthy")


router.add_api_route("/health/db", _db, methods=["GET"])
router.add_api_route("/api/v1/health/db", _db, methods=["GET"], summary="Database health (seed 000 contract)")


@router.get("/health")
async def aggregate(request: Request) -> JSONResponse:
    readiness = await run_in_threadpool(request.app.state.health.readiness)
    ok = readiness["status"] == "ready"
    body = {"status": "healthy" if ok else "unhealthy", "version": __version__, "checks": readiness["checks"]}
    return _json(body, ok)
