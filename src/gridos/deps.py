"""FastAPI dependencies: the only reader of `app.state.services` (gridos.services), built once by the app
factory. Routes take what they need as parameters; middleware and other request-scoped code call
`services(request)`."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from fastapi import Request

from gridos.errors import ServiceUnavailable

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gridos.alarms.service import AlarmService
    from gridos.devices.service import DeviceRegistry
    from gridos.health.service import HealthChecker
    from gridos.identity.service import IdentityService
    from gridos.services import Services
    from gridos.telemetry.service import TelemetryService
    from gridos.web.live import LiveFeed

T = TypeVar("T")


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


def installed(service: T | None, feature: str) -> T:
    """A feature's service, or 503 when the app was built without that feature."""
    if service is None:
        raise ServiceUnavailable(f"{feature} is not set up (gridos.{feature}.install was not called)")
    return service


# async: pure lookups, so FastAPI runs them on the event loop instead of handing each one to a worker thread.
async def engine(request: Request) -> Engine:
    return services(request).engine


async def telemetry(request: Request) -> TelemetryService:
    return services(request).telemetry


async def registry(request: Request) -> DeviceRegistry:
    return services(request).registry


async def health(request: Request) -> HealthChecker:
    return services(request).health


async def alarms(request: Request) -> AlarmService:
    return installed(services(request).alarms, "alarms")


async def optional_alarms(request: Request) -> AlarmService | None:
    return services(request).alarms


async def identity(request: Request) -> IdentityService:
    return installed(services(request).identity, "identity")


async def live(request: Request) -> LiveFeed:
    return installed(services(request).live, "web")
