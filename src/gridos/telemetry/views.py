"""HTTP routes of the time series."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from gridos.deps import telemetry
from gridos.errors import InvalidInput, UnsupportedMediaType
from gridos.http import Time, api_router, body_limit
from gridos.security import INGEST, READ, require
from gridos.telemetry.schemas import IngestResult, SeriesOut
from gridos.telemetry.service import TelemetryService

router = api_router("/api/v1/scada", ["telemetry"])

_SAMPLE_EXAMPLE = {"device_id": "test-device", "voltage": 230, "current": 10}


@router.post(
    "/data",
    response_model=IngestResult,
    dependencies=[Depends(require(INGEST))],
    openapi_extra=body_limit("max_body_bytes")
    | {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [
                            {"$ref": "#/components/schemas/SampleIn"},
                            {"type": "array", "items": {"$ref": "#/components/schemas/SampleIn"}},
                        ]
                    },
                    "example": _SAMPLE_EXAMPLE,
                },
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": "one SampleIn object per line"}
                },
            },
        }
    },
    summary="Ingest samples (one object, a JSON array, or NDJSON); 200 means committed",
)
async def post_samples(
    request: Request, svc: Annotated[TelemetryService, Depends(telemetry)]
) -> IngestResult:
    content_type = ingest_media_type(request.headers.get("content-type"))
    body = await request.body()
    # Parsing a large batch is CPU work: keep it off the event loop along with the commit.
    return await run_in_threadpool(svc.ingest, body, content_type, "http")


JSON_TYPES = frozenset({"application/json"})
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonlines"})


def ingest_media_type(header: str | None) -> str:
    """The body's media type, checked before the body is read: a form, XML or text body is not JSON that
    happens to parse, it is a client sending the wrong thing."""
    media_type = (header or "").split(";", 1)[0].strip().lower()
    if media_type in JSON_TYPES or media_type in NDJSON_TYPES:
        return media_type
    accepted = sorted(JSON_TYPES | NDJSON_TYPES)
    raise UnsupportedMediaType(
        f"Content-Type {header!r} is not accepted; send one of {', '.join(accepted)}"
        if header
        else f"Content-Type is missing; send one of {', '.join(accepted)}",
        accepted=accepted,
    )


_STEP = re.compile(r"^(\d+)(ms|s|m|h|d)?$")
MAX_STEP_SECONDS = 366 * 86400  # a bucket longer than a year answers nothing a year-long bucket does not
_UNITS = {None: 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_step(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    m = _STEP.match(raw.strip())
    if not m or m.group(2) == "ms":
        raise InvalidInput(
            f"step {raw!r} is not a whole number of seconds (e.g. 60, 30s, 5m, 1h)",
            errors=[{"field": "step", "in": "query", "message": "invalid duration"}],
        )
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if seconds <= 0:
        raise InvalidInput("step must be positive", errors=[{"field": "step", "message": "must be > 0"}])
    if seconds > MAX_STEP_SECONDS:
        raise InvalidInput(
            f"step {raw!r} is longer than {MAX_STEP_SECONDS // 86400} days",
            errors=[{"field": "step", "in": "query", "message": "too long"}],
        )
    return seconds


def _aware(dt: datetime | None) -> datetime | None:
    if dt is None:
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@router.get(
    "/data", response_model=SeriesOut, response_model_by_alias=True, dependencies=[Depends(require(READ))]
)
def get_samples(
    svc: Annotated[TelemetryService, Depends(telemetry)],
    device_id: Annotated[str, Query(min_length=1)],
    measurement: str = "voltage",
    from_: Annotated[
        datetime | None, Query(alias="from", description="RFC 3339; default to - 1 h"), Time
    ] = None,
    to: Annotated[datetime | None, Query(description="RFC 3339; default now"), Time] = None,
    step: Annotated[str | None, Query(description="bucket width: 30s, 5m, 1h; none = raw points")] = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> Any:
    end = _aware(to) or datetime.now(UTC)
    start = _aware(from_) or end - timedelta(hours=1)
    document = svc.series(device_id, measurement, start, end, parse_step(step), limit)
    # Serialised in one call (up to 100,000 points): validating each point into a model again on the way
    # out cost more than the query (docs/benchmarks.md, read API under load).
    return Response(orjson.dumps(document, option=orjson.OPT_UTC_Z), media_type="application/json")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a key TelemetryService.status adds must be added here


class Envelope(_Out):
    min: float
    max: float
    avg: float


class SiteStatus(_Out):
    site: str
    devices: int
    reporting: int
    stale: int
    never_reported: int
    by_type: dict[str, int] = Field(description="device count per device type")
    active_power_kw: float = Field(description="sum over the site's feeders")
    breakers_open: int
    voltage_pu: Envelope | None = Field(description="latest voltages per unit of nominal; null: none")
    frequency_hz: Envelope | None


class StatusTotals(_Out):
    devices: int
    reporting: int
    stale: int
    never_reported: int
    sites: int


class GridStatus(_Out):
    generated_at: str = Field(description="ISO 8601 UTC")
    stale_after_seconds: float
    sites: list[SiteStatus]
    totals: StatusTotals


@router.get("/status", response_model=GridStatus, dependencies=[Depends(require(READ))])
def grid_status(svc: Annotated[TelemetryService, Depends(telemetry)]) -> dict[str, Any]:
    """Grid summary per site: device counts, reporting vs stale, envelopes of key values."""
    return svc.status()
