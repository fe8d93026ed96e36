"""HTTP routes of the device registry. Device ids may contain '/', hence the path converters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Query, Response
from pydantic import ValidationError

from gridos.deps import registry, telemetry
from gridos.devices.schemas import Device, DeviceCreate, DeviceFields, DeviceLatest, DevicePatch, DeviceType
from gridos.devices.service import DeviceRegistry
from gridos.errors import InvalidInput
from gridos.http import Offset, api_router
from gridos.security import ENGINEER, READ, require
from gridos.telemetry.service import TelemetryService

router = api_router("/api/v1/devices", ["devices"])
Registry = Annotated[DeviceRegistry, Depends(registry)]


@router.get("", dependencies=[Depends(require(READ))])
def list_devices(
    reg: Registry,
    site: str | None = None,
    type: DeviceType | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    items, total = reg.list(site, type.value if type else None, limit, offset)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.post("", status_code=201, response_model=Device, dependencies=[Depends(require(ENGINEER))])
def create_device(spec: DeviceCreate, reg: Registry, response: Response) -> Device:
    device = reg.create(spec)
    response.headers["Location"] = f"/api/v1/devices/{device.id}"
    return device


@router.get("/{device_id:path}/latest", response_model=DeviceLatest, dependencies=[Depends(require(READ))])
def latest(device_id: str, svc: Annotated[TelemetryService, Depends(telemetry)]) -> DeviceLatest:
    return svc.latest(device_id)


@router.get("/{device_id:path}", response_model=Device, dependencies=[Depends(require(READ))])
def get_device(device_id: str, reg: Registry) -> Device:
    return reg.get(device_id)


@router.put(
    "/{device_id:path}",
    response_model=Device,
    responses={201: {"model": Device, "description": "Created"}},
    dependencies=[Depends(require(ENGINEER))],
)
def put_device(device_id: str, spec: DeviceFields, reg: Registry, response: Response) -> Device:
    try:
        DeviceCreate.model_validate(spec.model_dump() | {"id": device_id})
    except ValidationError as exc:
        raise InvalidInput(
            f"invalid device id {device_id!r}",
            errors=[{"field": "device_id", "in": "path", "message": exc.errors()[0]["msg"]}],
        ) from None
    device, created = reg.put(device_id, spec)
    response.status_code = 201 if created else 200
    return device


@router.patch("/{device_id:path}", response_model=Device, dependencies=[Depends(require(ENGINEER))])
def patch_device(device_id: str, patch: DevicePatch, reg: Registry) -> Device:
    return reg.patch(device_id, patch)


@router.delete("/{device_id:path}", status_code=204, dependencies=[Depends(require(ENGINEER))])
def delete_device(device_id: str, reg: Registry) -> Response:
    reg.delete(device_id)
    return Response(status_code=204)
