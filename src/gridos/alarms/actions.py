"""Operator actions on one alarm (ack, shelve, comment, suppress, out of service) and the
communication-failure interface of the field connectors; each is one unit of work.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from gridos.alarms import model
from gridos.alarms.cache import AlarmCache
from gridos.alarms.config import AlarmSettings
from gridos.alarms.evaluator import COMM
from gridos.alarms.model import (
    US,
    AlarmRecord,
    Chatter,
    Condition,
    IllegalTransition,
    Priority,
    ShelveKind,
    Transition,
)
from gridos.alarms.repository import alarm_view
from gridos.alarms.tables import alarms
from gridos.alarms.unit_of_work import UnitOfWork, Workspace
from gridos.clock import now_us
from gridos.errors import Conflict, InvalidInput, NotFound


class Actions:
    def __init__(self, settings: AlarmSettings, cache: AlarmCache, uow: UnitOfWork, chatter: Chatter) -> None:
        self.settings = settings
        self.cache = cache
        self.uow = uow
        self.chatter = chatter

    def _act(self, alarm_id: int, action: Callable[[AlarmRecord, int], list[Transition]]) -> dict[str, Any]:
        with self.uow.engine.connect() as conn:
            row = conn.execute(
                select(alarms.c.device_id, alarms.c.measurement).where(alarms.c.id == alarm_id)
            ).first()
        if row is None:
            raise NotFound(f"alarm {alarm_id} does not exist")
        result: dict[str, Any] = {}

        def mutate(ws: Workspace) -> None:
            rec = next(r for r in ws.records.values() if r.id == alarm_id)
            at = now_us()
            spec = next(
                (s for s in self.cache.specs(rec.device_id, rec.measurement) if s.condition is rec.condition),
                None,
            )
            ws.emit(rec, model.tick(rec, at, spec, self.chatter))
            try:
                ws.emit(rec, action(rec, at))
            except IllegalTransition as exc:
                raise Conflict(str(exc), state=rec.state.value) from None
            result.update(alarm_view(rec))

        self.uow.transact([(row.device_id, row.measurement)], mutate)
        return result

    def ack(self, alarm_id: int, actor: str, comment: str | None) -> dict[str, Any]:
        return self._act(alarm_id, lambda rec, at: model.ack(rec, at, actor, comment))

    def shelve(
        self, alarm_id: int, kind: ShelveKind, duration_s: float | None, actor: str, comment: str | None
    ) -> dict[str, Any]:
        limit = self.settings.max_shelve_seconds
        if duration_s is not None and duration_s > limit:
            raise InvalidInput(
                f"shelve time {duration_s:g} s exceeds the maximum of {limit:g} s",
                errors=[{"field": "duration_s", "message": f"at most {limit:g}"}],
            )
        if kind is ShelveKind.timed and duration_s is None:
            raise InvalidInput(
                "a timed shelve needs duration_s", errors=[{"field": "duration_s", "message": "required"}]
            )
        seconds = duration_s if duration_s is not None else limit
        return self._act(
            alarm_id, lambda rec, at: model.shelve(rec, at, kind, at + round(seconds * US), actor, comment)
        )

    def comment(self, alarm_id: int, actor: str, text: str) -> dict[str, Any]:
        return self._act(alarm_id, lambda rec, at: model.comment(rec, at, actor, text))

    def unshelve(self, alarm_id: int, actor: str, comment: str | None) -> dict[str, Any]:
        return self._act(alarm_id, lambda rec, at: model.unshelve(rec, at, actor, comment))

    def set_suppressed(self, alarm_id: int, on: bool, actor: str, comment: str | None) -> dict[str, Any]:
        return self._act(alarm_id, lambda rec, at: model.set_suppressed(rec, at, on, actor, comment))

    def set_out_of_service(self, alarm_id: int, on: bool, actor: str, comment: str | None) -> dict[str, Any]:
        return self._act(alarm_id, lambda rec, at: model.set_out_of_service(rec, at, on, actor, comment))

    # -- communication failure (also the interface of the field connectors) -----------------------
    def comm_failure(self, device_id: str, detail: str) -> None:
        """Raise the device's comm-failure alarm (idempotent, thread-safe, blocks for one transaction)."""
        self.comm(device_id, True, detail, actor="connector")

    def comm_restored(self, device_id: str) -> None:
        """Clear the device's comm-failure alarm (idempotent, thread-safe, blocks for one transaction)."""
        self.comm(device_id, False, "communication restored", actor="connector")

    def comm(self, device_id: str, failed: bool, detail: str, actor: str) -> None:
        def mutate(ws: Workspace) -> None:
            rec = ws.get(device_id, COMM, Condition.comm)
            at = now_us()
            if failed and not rec.condition_active:
                rec.message = detail
                ws.emit(
                    rec,
                    model.activate(
                        rec, at, self.chatter, priority=Priority.high, actor=actor, comment=detail
                    ),
                )
            elif not failed and rec.condition_active:
                rec.message = None
                ws.emit(rec, model.clear(rec, at, actor=actor, comment=detail))

        self.uow.transact([(device_id, COMM)], mutate)
