"""API shapes of the device registry."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
SiteName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


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

    @field_validator("type", "site", "expected_interval_s", "tags", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # null means "remove" for an optional rating; a device cannot be without a type, site, interval
        # or tag map, so an explicit null there is an error named after its field (not a failed write).
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
