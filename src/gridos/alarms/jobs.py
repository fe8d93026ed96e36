"""Time-driven work, run by the background loops of `gridos.alarms.install`: supervision (shelve expiry,
re-alarm, end of chattering, removed rules), communication-failure detection, flood detection, gauges.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from gridos.alarms import model
from gridos.alarms.actions import Actions
from gridos.alarms.cache import AlarmCache
from gridos.alarms.config import AlarmSettings
from gridos.alarms.evaluator import COMM
from gridos.alarms.model import US, Chatter, Condition, Priority, State
from gridos.alarms.repository import Series
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.tables import alarm_events, alarm_outbox, alarms
from gridos.alarms.unit_of_work import UnitOfWork, Workspace
from gridos.clock import iso, now_us
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.alarms")


class Jobs:
    def __init__(
        self,
        settings: AlarmSettings,
        metrics: Metrics,
        cache: AlarmCache,
        uow: UnitOfWork,
        actions: Actions,
        chatter: Chatter,
        last_received: Callable[[], dict[str, int]],
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.cache = cache
        self.uow = uow
        self.engine = uow.engine
        self.broadcaster: TransitionBroadcaster = uow.broadcaster
        self.actions = actions
        self.chatter = chatter
        self._last_received = last_received  # device id -> newest received_at (telemetry)
        self.flood: dict[str, Any] = {"active": False, "count": 0}

    def check_staleness(self, now: int | None = None) -> list[str]:
        """Raise comm-failure for devices silent for more than multiplier x expected interval, and clear
        those whose data came back after the alarm. Returns the devices newly raised."""
        now = now or now_us()
        last_seen = self._last_received()
        raised = []
        for device_id, seen in last_seen.items():
            info = self.cache.devices.get(device_id)
            if info is None:
                continue
            allowed = round(self.settings.comm_failure_multiplier * info.expected_interval_s * US)
            rec = self.cache.records.get((device_id, COMM, Condition.comm))
            active = rec is not None and rec.condition_active
            if now - seen > allowed and not active:
                silent = (now - seen) / US
                self.actions.comm(
                    device_id,
                    True,
                    f"no sample for {silent:.0f} s (expected every {info.expected_interval_s:g} s)",
                    actor="system",
                )
                raised.append(device_id)
            elif active and rec is not None and seen > (rec.activated_at_us or 0) and now - seen <= allowed:
                self.actions.comm(device_id, False, "data received again", actor="system")
        return raised

    def supervise(self, now: int | None = None) -> None:
        """Shelve expiry, re-alarm, end of chattering; conditions whose rule was removed are cleared."""
        now = now or now_us()
        due: set[Series] = set()
        with self.cache.lock:
            records = list(self.cache.records.values())
        for rec in records:
            if (rec.shelved_until_us is not None and rec.shelved_until_us <= now) or rec.chattering:
                due.add((rec.device_id, rec.measurement))
            elif rec.condition_active and rec.condition is not Condition.comm:
                specs = {s.condition: s for s in self.cache.specs(rec.device_id, rec.measurement)}
                spec = specs.get(rec.condition)
                if spec is None or model.realarm_due(rec, spec, now):
                    due.add((rec.device_id, rec.measurement))
        if not due:
            return

        def mutate(ws: Workspace) -> None:
            at = now_us()
            for rec in list(ws.records.values()):
                if rec.condition is Condition.comm:
                    ws.emit(rec, model.tick(rec, at, None, self.chatter))
                    continue
                specs = {s.condition: s for s in self.cache.specs(rec.device_id, rec.measurement)}
                spec = specs.get(rec.condition)
                if spec is None and rec.condition_active:
                    ws.emit(rec, model.clear(rec, at, comment="rule removed or disabled"))
                ws.emit(rec, model.tick(rec, at, spec, self.chatter))

        self.uow.transact(due, mutate)

    def flood_status(self, now: int | None = None) -> dict[str, Any]:
        now = now or now_us()
        window = round(self.settings.flood_window_seconds * US)
        with self.engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(alarm_events)
                .where(alarm_events.c.action == "activate", alarm_events.c.at_us > now - window)
            ).scalar_one()
        status = {
            "active": count > self.settings.flood_threshold,
            "count": int(count),
            "threshold": self.settings.flood_threshold,
            "window_s": self.settings.flood_window_seconds,
        }
        if status["active"] != self.flood.get("active"):
            self.broadcaster.publish({"event": "flood", "data": status | {"at": iso(now)}})
            if status["active"]:
                log.warning("alarm flood", extra=status)
        self.flood = status
        self.metrics.alarm_flood.set(1 if status["active"] else 0)
        return status

    def refresh_gauges(self) -> None:
        with self.engine.connect() as conn:
            counts = conn.execute(
                select(alarms.c.priority, alarms.c.state, func.count())
                .where(alarms.c.state != State.normal.value)
                .group_by(alarms.c.priority, alarms.c.state)
            ).all()
            chattering = conn.execute(
                select(func.count()).select_from(alarms).where(alarms.c.chattering.is_(True))
            ).scalar_one()
            pending = conn.execute(
                select(func.count()).select_from(alarm_outbox).where(alarm_outbox.c.delivered_us.is_(None))
            ).scalar_one()
        # Every (priority, state) series is set on each refresh, never cleared: a scrape in between sees
        # either the old or the new figure, never a transient zero.
        found = {(p, st): n for p, st, n in counts}
        for priority in Priority:
            for state in State:
                if state is not State.normal:
                    n = found.get((priority.value, state.value), 0)
                    self.metrics.active_alarms.labels(priority=priority.value, state=state.value).set(n)
        self.metrics.alarm_chattering.set(chattering)
        self.metrics.alarm_outbox_pending.set(pending)
