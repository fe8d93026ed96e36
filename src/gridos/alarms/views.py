"""HTTP routes of alarms (/api/v1/alarms) and alarm rules (/api/v1/alarm-rules)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from gridos import deps
from gridos.alarms.events import state_events
from gridos.alarms.model import US, Priority, ShelveKind, State
from gridos.alarms.responses import (
    AlarmHistory,
    AlarmList,
    AlarmOut,
    EffectiveLimits,
    Flood,
    RuleAudit,
    StateEvents,
)
from gridos.alarms.rules import ChangeComment, Rule, RuleCreate, RuleFields
from gridos.alarms.service import AlarmService
from gridos.errors import InvalidInput
from gridos.http import MAX_ROW_ID, Offset, RowId, Time, api_router
from gridos.identity.principal import Principal
from gridos.security import ADMIN, ENGINEER, OPERATE, READ, require
from gridos.telemetry.service import TelemetryService

router = api_router("/api/v1/alarms", ["alarms"])
rules_router = api_router("/api/v1/alarm-rules", ["alarm rules"])
KEEPALIVE_SECONDS = 15.0


Svc = Annotated[AlarmService, Depends(deps.alarms)]


class ActionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=1000, description="why (kept in the audit trail)")
    user: str | None = Field(
        default=None,
        max_length=100,
        deprecated=True,
        description="ignored: the audit trail records the authenticated caller, never a body field",
    )


class ShelveIn(ActionIn):
    kind: ShelveKind = ShelveKind.timed
    duration_s: float | None = Field(
        default=None,
        gt=0,
        allow_inf_nan=False,
        description="timed: required; one-shot: optional cap (default: the maximum)",
    )


def _actor(principal: Principal) -> str:
    # Who acted is who authenticated (gridos.identity), whatever the body says.
    return principal.actor


def _us(dt: datetime | None) -> int | None:
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt
    return round(dt.timestamp() * US)


@router.get("", response_model=AlarmList, dependencies=[Depends(require(READ))])
def list_alarms(
    svc: Svc,
    site: str | None = None,
    device_id: str | None = None,
    priority: Priority | None = None,
    state: State | None = Query(default=None, description="default: every state but normal"),
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Alarms not in normal state, by priority (critical first) then most recent activation first."""
    return svc.list_active(site, device_id, priority, state, limit, offset)


@router.get("/history", response_model=AlarmHistory, dependencies=[Depends(require(READ))])
def alarm_history(
    svc: Svc,
    alarm_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    device_id: str | None = None,
    site: str | None = None,
    from_: Annotated[datetime | None, Query(alias="from"), Time] = None,
    to: Annotated[datetime | None, Time] = None,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ROW_ID, description="page: next_before_id of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Every transition, newest first: who, when, why (the audit trail of the lifecycle)."""
    return svc.history(alarm_id, device_id, site, _us(from_), _us(to), before_id, limit)


@router.get("/events", response_model=StateEvents, dependencies=[Depends(require(READ))])
def events(
    telemetry: Annotated[TelemetryService, Depends(deps.telemetry)],
    device_id: str | None = None,
    from_: Annotated[
        datetime | None, Query(alias="from", description="default: 24 h before `to`"), Time
    ] = None,
    to: Annotated[datetime | None, Query(description="default: now"), Time] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Events, not alarms: breaker opened/closed (and other boolean state changes), newest first, from the
    stored samples. A rule on `breaker_closed` turns a change into an alarm when wanted."""
    end = _us(to) or round(datetime.now(UTC).timestamp() * US)
    start = _us(from_) or end - 86_400 * US
    if start > end:
        raise InvalidInput("`from` is after `to`", errors=[{"field": "from", "message": "after to"}])
    # One day before the window is read too, so the window's first change knows the state it left.
    items = state_events(
        telemetry,
        device_id,
        start,
        end,
        start - 86_400 * US,
        limit,
    )
    return {"items": items, "count": len(items)}


@router.get("/flood", response_model=Flood, dependencies=[Depends(require(READ))])
def flood(svc: Svc) -> dict[str, Any]:
    return svc.flood_status()


def _sse(message: dict[str, Any]) -> bytes:
    data = orjson.dumps(message["data"])
    head = f"id: {message['data']['id']}\n" if message["event"] == "transition" else ""
    return f"{head}event: {message['event']}\n".encode() + b"data: " + data + b"\n\n"


@router.get(
    "/stream",
    dependencies=[Depends(require(READ))],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    svc: Svc, last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None
) -> StreamingResponse:
    """Server-Sent Events: `transition` (with `id:`, resumable with Last-Event-ID), `flood`, and
    `overflow` when this client fell behind and should reload the list."""
    queue = svc.broadcaster.subscribe()
    after = (
        int(last_event_id) if last_event_id and last_event_id.isdigit() and len(last_event_id) <= 10 else None
    )
    if after is not None and after > MAX_ROW_ID:
        after = None

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 3000\n: connected\n\n"
            last = after
            if after is not None:
                for event in await run_in_threadpool(svc.events_after, after):
                    last = event["id"]
                    yield _sse({"event": "transition", "data": event})
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    continue
                if message is None:
                    return
                if message["event"] == "transition" and last is not None and message["data"]["id"] <= last:
                    continue
                yield _sse(message)
        finally:
            svc.broadcaster.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/{alarm_id}", response_model=AlarmOut, dependencies=[Depends(require(READ))])
def get_alarm(alarm_id: RowId, svc: Svc) -> dict[str, Any]:
    return svc.get(alarm_id)


@router.post("/{alarm_id}/ack", response_model=AlarmOut)
def ack(
    alarm_id: RowId,
    svc: Svc,
    who: Annotated[Principal, Depends(require(OPERATE))],
    body: ActionIn | None = None,
) -> dict[str, Any]:
    return svc.ack(alarm_id, _actor(who), body.comment if body else None)


@router.post("/{alarm_id}/shelve", response_model=AlarmOut)
def shelve(
    alarm_id: RowId, body: ShelveIn, svc: Svc, who: Annotated[Principal, Depends(require(OPERATE))]
) -> dict[str, Any]:
    return svc.shelve(alarm_id, body.kind, body.duration_s, _actor(who), body.comment)


class CommentIn(ActionIn):
    comment: str = Field(min_length=1, max_length=1000, description="the note (kept in the audit trail)")


@router.post("/{alarm_id}/comment", response_model=AlarmOut)
def comment(
    alarm_id: RowId, body: CommentIn, svc: Svc, who: Annotated[Principal, Depends(require(OPERATE))]
) -> dict[str, Any]:
    """An operator's note on the alarm (any state); a `comment` entry in the history, nothing else changes."""
    return svc.comment(alarm_id, _actor(who), body.comment)


@router.post("/{alarm_id}/unshelve", response_model=AlarmOut)
def unshelve(
    alarm_id: RowId,
    svc: Svc,
    who: Annotated[Principal, Depends(require(OPERATE))],
    body: ActionIn | None = None,
) -> dict[str, Any]:
    return svc.unshelve(alarm_id, _actor(who), body.comment if body else None)


def _admin_action(name: str, call: Any) -> None:
    def route(
        alarm_id: RowId,
        svc: Svc,
        who: Annotated[Principal, Depends(require(ADMIN))],
        body: ActionIn | None = None,
    ) -> dict[str, Any]:
        return call(svc, alarm_id, _actor(who), body.comment if body else None)

    route.__name__ = name.replace("-", "_")
    router.post(f"/{{alarm_id}}/{name}", response_model=AlarmOut, summary=f"{name} (admin)")(route)


_admin_action("suppress", lambda s, i, a, c: s.set_suppressed(i, True, a, c))
_admin_action("unsuppress", lambda s, i, a, c: s.set_suppressed(i, False, a, c))
_admin_action("remove-from-service", lambda s, i, a, c: s.set_out_of_service(i, True, a, c))
_admin_action("return-to-service", lambda s, i, a, c: s.set_out_of_service(i, False, a, c))


# -- rules ----------------------------------------------------------------------------------------
@rules_router.get("", response_model=list[Rule], dependencies=[Depends(require(READ))])
def list_rules(svc: Svc, device_id: str | None = None, measurement: str | None = None) -> list[Rule]:
    return svc.list_rules(device_id, measurement)


@rules_router.post("", status_code=201, response_model=Rule)
def create_rule(
    spec: RuleCreate, svc: Svc, response: Response, who: Annotated[Principal, Depends(require(ENGINEER))]
) -> Rule:
    rule = svc.create_rule(spec, _actor(who))
    response.headers["Location"] = f"/api/v1/alarm-rules/{rule.id}"
    return rule


@rules_router.get("/audit", response_model=RuleAudit, dependencies=[Depends(require(READ))])
def rules_audit(
    svc: Svc,
    rule_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Every rule change (create, update, delete; API or rules file): who, when, before and after."""
    return {"items": svc.rule_audit(rule_id, limit)}


@rules_router.get(
    "/effective/{device_id:path}", response_model=EffectiveLimits, dependencies=[Depends(require(READ))]
)
def effective(device_id: str, svc: Svc) -> dict[str, Any]:
    """The limits in force for a device: configured rules, else defaults from its ratings (with source)."""
    return svc.effective(device_id)


@rules_router.get("/{rule_id}", response_model=Rule, dependencies=[Depends(require(READ))])
def get_rule(rule_id: RowId, svc: Svc) -> Rule:
    return svc.get_rule(rule_id)


@rules_router.put("/{rule_id}", response_model=Rule)
def put_rule(
    rule_id: RowId,
    spec: RuleFields,
    svc: Svc,
    who: Annotated[Principal, Depends(require(ENGINEER))],
    comment: Annotated[str | None, Query(max_length=1000)] = None,
) -> Rule:
    return svc.update_rule(rule_id, spec, _actor(who), comment)


@rules_router.delete("/{rule_id}", status_code=204, response_class=Response)
def delete_rule(
    rule_id: RowId,
    svc: Svc,
    who: Annotated[Principal, Depends(require(ENGINEER))],
    body: ChangeComment | None = None,
) -> Response:
    svc.delete_rule(rule_id, _actor(who), body.comment if body else None)
    return Response(status_code=204)
