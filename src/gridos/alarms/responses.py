"""Response bodies of the alarm routes, exactly what gridos.alarms.service returns (alarm_view, event_view,
...), so the OpenAPI documents them and FastAPI checks them. `extra="forbid"`: a key the service adds
without adding it here fails the tests, not silently vanishes from the answer."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from gridos.alarms.model import Condition, Priority, ShelveKind, State

# Kept as the service formats them (datetime.isoformat, +00:00), not re-rendered by pydantic.
IsoDatetime = Annotated[datetime, PlainSerializer(lambda d: d.isoformat(), return_type=str)]
Time = Annotated[str | None, Field(description="ISO 8601 UTC, microseconds")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Shelved(_Out):
    kind: ShelveKind
    until: Time


class AlarmOut(_Out):
    id: int | None
    device_id: str
    site: str | None
    measurement: str
    condition: Condition
    priority: Priority
    state: State
    condition_active: bool
    acknowledged: bool
    latched: bool
    shelved: Shelved | None
    suppressed: bool
    out_of_service: bool
    chattering: bool
    value: float | None
    limit: float | None
    message: str | None
    activated_at: Time
    acked_at: Time
    changed_at: Time
    last_actor: str | None
    last_comment: str | None


class Flood(_Out):
    active: bool
    count: int
    threshold: int
    window_s: float


class AlarmList(_Out):
    items: list[AlarmOut]
    total: int
    limit: int
    offset: int
    flood: Flood


class AlarmEvent(_Out):
    id: int
    alarm_id: int
    device_id: str
    site: str | None
    measurement: str
    condition: str
    priority: str
    action: str
    from_state: str | None
    to_state: str | None
    at: Time
    actor: str | None
    comment: str | None
    value: float | None
    limit: float | None
    sample_ts: Time
    received_at: Time
    alarm: dict[str, Any] | None = Field(description="the alarm as it was after this transition")


class AlarmHistory(_Out):
    items: list[AlarmEvent]
    next_before_id: int | None = Field(description="pass as before_id for the next (older) page")


class StateEvent(_Out):
    device_id: str
    measurement: str
    ts: IsoDatetime
    value: bool
    previous: bool
    event: str


class StateEvents(_Out):
    items: list[StateEvent]
    count: int


class RuleAuditEntry(_Out):
    id: int
    rule_id: int | None
    device_id: str
    measurement: str
    action: str
    actor: str | None
    at: Time
    comment: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class RuleAudit(_Out):
    items: list[RuleAuditEntry]


class EffectiveLimit(_Out):
    value: float
    priority: Priority
    deadband: float
    on_delay_s: float
    off_delay_s: float
    realarm_s: float | None
    latching: bool
    source: str


class EffectiveMeasurement(_Out):
    rule_id: int | None
    enabled: bool
    limits: dict[str, EffectiveLimit]


class CommLimit(_Out):
    stale_after_s: float
    priority: Priority
    source: str


class EffectiveCommunication(_Out):
    comm: CommLimit


class EffectiveLimits(_Out):
    device_id: str
    measurements: dict[str, EffectiveMeasurement | EffectiveCommunication] = Field(
        description="per measurement; `communication` holds the comm-failure limit"
    )
