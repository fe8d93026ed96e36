"""FastAPI dependencies: the services live on app.state, built once by the app factory."""

from __future__ import annotations

from fastapi import Request

from gridos.devices.service import DeviceRegistry
from gridos.telemetry.service import TelemetryService


# async: pure lookups, so FastAPI runs them on the event loop instead of handing each one to a worker thread.
async def telemetry(request: Request) -> TelemetryService:
    return request.app.state.telemetry


async def registry(request: Request) -> DeviceRegistry:
    return request.app.state.registry
