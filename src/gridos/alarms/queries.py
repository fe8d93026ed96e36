"""Read-only answers of the alarm API: active alarms, one alarm, and the transition history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from gridos.alarms.model import PRIORITY_RANK, Priority, State
from gridos.alarms.repository import alarm_view, event_view, record_from_row
from gridos.alarms.tables import alarm_events, alarms
from gridos.errors import NotFound


class Queries:
    def __init__(self, engine: Engine, flood_status: Callable[[], dict[str, Any]]) -> None:
        self.engine = engine
        self.flood_status = flood_status

    def get(self, alarm_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise NotFound(f"alarm {alarm_id} does not exist")
        return alarm_view(record_from_row(row))

    def list_active(
        self,
        site: str | None,
        device_id: str | None,
        priority: Priority | None,
        state: State | None,
        limit: int,
        offset: int,
    ) -> dict[str, Any]:
        q = select(alarms)
        q = q.where(alarms.c.state == state.value) if state else q.where(alarms.c.state != State.normal.value)
        if site:
            q = q.where(alarms.c.site == site)
        if device_id:
            q = q.where(alarms.c.device_id == device_id)
        if priority:
            q = q.where(alarms.c.priority == priority.value)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        recs = sorted(
            (record_from_row(r) for r in rows),
            key=lambda r: (
                PRIORITY_RANK[r.priority],
                -(r.activated_at_us or r.changed_at_us or 0),
                r.id or 0,
            ),
        )
        return {
            "items": [alarm_view(r) for r in recs[offset : offset + limit]],
            "total": len(recs),
            "limit": limit,
            "offset": offset,
            "flood": self.flood_status(),
        }

    def history(
        self,
        alarm_id: int | None,
        device_id: str | None,
        site: str | None,
        since_us: int | None,
        until_us: int | None,
        before_id: int | None,
        limit: int,
    ) -> dict[str, Any]:
        q = select(alarm_events)
        if alarm_id is not None:
            q = q.where(alarm_events.c.alarm_id == alarm_id)
        if device_id:
            q = q.where(alarm_events.c.device_id == device_id)
        if site:
            q = q.where(alarm_events.c.site == site)
        if since_us is not None:
            q = q.where(alarm_events.c.at_us >= since_us)
        if until_us is not None:
            q = q.where(alarm_events.c.at_us < until_us)
        if before_id is not None:
            q = q.where(alarm_events.c.id < before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(alarm_events.c.id.desc()).limit(limit + 1)).all()
        items = [event_view(r) for r in rows[:limit]]
        return {"items": items, "next_before_id": items[-1]["id"] if len(rows) > limit else None}

    def events_after(self, event_id: int, limit: int = 1000) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alarm_events)
                .where(alarm_events.c.id > event_id)
                .order_by(alarm_events.c.id)
                .limit(limit)
            ).all()
        return [event_view(r) for r in rows]
