"""The audit log: every write and every sign-in, with the authenticated subject (never a body field), the
role it acted under, the client address and the request id."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from gridos.identity.models import audit_log
from gridos.identity.principal import Principal

log = logging.getLogger("gridos.audit")


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        action: str,
        outcome: str,
        principal: Principal | None,
        client: str | None,
        request_id: str | None,
        status: int | None = None,
        target: str | None = None,
        detail: dict[str, Any] | None = None,
        subject: str | None = None,
    ) -> None:
        row = {
            "at": datetime.now(UTC),
            "action": action[:200],
            "outcome": outcome,
            "status": status,
            "subject": (principal.subject if principal else subject),
            "role": principal.role.value if principal else None,
            "auth": principal.auth if principal else None,
            "client": (client or "")[:64] or None,
            "request_id": (request_id or "")[:128] or None,
            "target": target,
            "detail": detail,
        }
        # The structured log gets it too: it survives a database that refuses the insert.
        log.info(
            "audit",
            extra={k: v for k, v in row.items() if k not in ("at", "request_id")} | {"audit_action": action},
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(audit_log).values(**row))
        except Exception as exc:
            log.error("audit record not stored", extra={"audit_action": action, "error": str(exc)[:200]})

    def query(
        self,
        subject: str | None,
        action: str | None,
        outcome: str | None,
        since: datetime | None,
        until: datetime | None,
        before_id: int | None,
        limit: int,
    ) -> dict[str, Any]:
        q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if subject:
            q = q.where(audit_log.c.subject == subject)
        if action:
            q = q.where(audit_log.c.action.like(f"%{action}%"))
        if outcome:
            q = q.where(audit_log.c.outcome == outcome)
        if since:
            q = q.where(audit_log.c.at >= since)
        if until:
            q = q.where(audit_log.c.at < until)
        if before_id:
            q = q.where(audit_log.c.id < before_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = [
            {
                **row._asdict(),
                "at": (row.at.replace(tzinfo=UTC) if row.at.tzinfo is None else row.at).isoformat(),
            }
            for row in rows
        ]
        return {"items": items, "next_before_id": items[-1]["id"] if len(items) == limit else None}
