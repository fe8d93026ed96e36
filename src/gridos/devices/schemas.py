"""API shapes of the device registry."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from gridos.telemetry.schemas import DeviceId


class DeviceType(StrEnum):
    transformer = "transformer"
    breaker = "breaker"
    feeder = "feeder"
    bus = "bus"
    meter = "meter"
    generator = "generator"


# Ratings are scaled into alarm limits (x1.2 and more): bounded so that no rating overflows to infinity.
MAX_RATING = 1e9
Positive = Annotated[float, Field(gt=0, le=MAX_RATING, allow_inf_nan=False)]
Interval = Annotated[float, Field(gt=0, le=7 * 86400, allow_inf_nan=False)]
SITE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_SITE = re.compile(SITE_PATTERN)


def _site(value: str) -> str:
    if not _SITE.fullmatch(value):
        raise PydanticCustomError(
            "site",
            "a site is 1 to 64 letters, digits and . _ -, starting with a letter or digit (e.g. north)",
        )
    return value


SiteName = Annotated[
    str,
    Field(min_length=1, max_length=64, json_schema_extra={"pattern": SITE_PATTERN}),
    AfterValidator(_site),
]


class DeviceFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DeviceType
    site: SiteName
    name: str | None = Field(default=None, max_length=200)
    nominal_voltage: Positive | None = Field(default=None, description="V (line-to-line)")
    rated_current: Positive | None = Field(default=None, description="A")
    nominal_frequency: Literal[50, 60] | None = Field(default=None, description="Hz")
    rated_power: Positive | None = Field(default=None, description="kVA")
    expected_interval_s: Interval = Field(default=10.0, description="seconds between samples")
    tags: dict[str, str] = Field(default_factory=dict)
    upstream: list[DeviceId] = Field(
        default_factory=list,
        max_length=16,
        description="topology: the registered devices of the same site this one is supplied from (a feeder's "
        "breaker, a breaker's bus, a bus's incomer breakers and generators); empty for a source such as a "
        "grid transformer. The operator console draws the one-line diagram from it; cycles are refused.",
    )


class DeviceCreate(DeviceFields):
    id: DeviceId


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: DeviceType | None = None
    site: SiteName | None = None
    name: str | None = Field(default=None, max_length=200)
    nominal_voltage: Positive | None = None
    rated_current: Positive | None = None
    nominal_frequency: Literal[50, 60] | None = None
    rated_power: Positive | None = None
    expected_interval_s: Interval | None = None
    tags: dict[str, str] | None = None
    upstream: list[DeviceId] | None = Field(default=None, max_length=16, description="topology (see Device)")

    @field_validator("type", "site", "expected_interval_s", "tags", "upstream", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # null means "remove" for an optional rating; a device cannot be without a type, site, interval
        # or tag map (an empty topology is []), so an explicit null there is an error named after its field.
        if value is None:
            raise ValueError("cannot be null: leave the field out to keep its value")
        return value


class Device(DeviceFields):
    model_config = ConfigDict(extra="ignore")

    id: str
    created_at: datetime
    updated_at: datetime


class LatestValue(BaseModel):
    value: float | bool
    unit: str
    ts: datetime
    received_at: datetime
    quality: Literal["good", "questionable", "invalid"]


class DeviceLatest(BaseModel):
    device_id: str
    measurements: dict[str, LatestValue]
