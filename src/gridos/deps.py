"""FastAPI dependencies: the only reader of `app.state.services` (gridos.services), built once by the app
factory. Routes take what they need as parameters; middleware and other request-scoped code call
`services(request)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from gridos.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gridos.alarms.service import AlarmService
    from gridos.config import Settings
    from gridos.devices.service import DeviceRegistry
    from gridos.health.service import HealthChecker
    from gridos.identity.service import IdentityService
    from gridos.services import Services
    from gridos.telemetry.service import TelemetryService
    from gridos.web.live import LiveFeed


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


# async: pure lookups, so FastAPI runs them on the event loop instead of handing each one to a worker thread.
async def settings(request: Request) -> Settings:
    return services(request).settings


async def engine(request: Request) -> Engine:
    return services(request).engine


async def telemetry(request: Request) -> TelemetryService:
    return services(request).telemetry


async def registry(request: Request) -> DeviceRegistry:
    return services(request).registry


async def health(request: Request) -> HealthChecker:
    return services(request).health


async def alarms(request: Request) -> AlarmService:
    service = services(request).alarms
    if service is None:
        raise ServiceUnavailable("alarms are not installed")
    return service


async def optional_alarms(request: Request) -> AlarmService | None:
    return services(request).alarms


async def identity(request: Request) -> IdentityService:
    service = services(request).identity
    if service is None:
        raise ServiceUnavailable("authentication is not set up (gridos.identity.install was not called)")
    return service


async def live(request: Request) -> LiveFeed:
    feed = services(request).live
    assert feed is not None  # installed with its route
    return feed
