"""Health checks. Readiness = the database answers and its schema is at the head revision; a failing
dependency makes the pod unready, it never makes the process exit or drop data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from gridos.db.migrate import current_revision, head_revision


@dataclass
class HealthChecker:
    engine: Engine
    head: str = field(default_factory=head_revision)
    # Extra readiness checks (connectors): name -> callable returning (ok, details).
    extra: dict[str, Any] = field(default_factory=dict)

    def database(self) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            revision = current_revision(self.engine)
        except Exception as exc:
            return {"status": "unhealthy", "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"}
        latency_ms = round((time.perf_counter() - started) * 1000, 2)
        schema_current = revision == self.head
        return {
            "status": "healthy" if schema_current else "unhealthy",
            "backend": self.engine.dialect.name,
            "latency_ms": latency_ms,
            "schema_revision": revision,
            "schema_head": self.head,
            "schema_current": schema_current,
        }

    def readiness(self) -> dict[str, Any]:
        checks: dict[str, Any] = {"database": self.database()}
        for name, check in self.extra.items():
            checks[name] = check()
        ok = all(c.get("status") in ("healthy", "disabled") for c in checks.values())
        return {"status": "ready" if ok else "not_ready", "checks": checks}
