"""Webhook notifications through a persisted outbox.

Transitions are written to `alarm_outbox` in the same transaction as the transition itself, one row per
sink, so a slow or dead sink can neither block ingest nor lose a transition. A worker thread per
replica claims due rows with a lease (FOR UPDATE SKIP LOCKED on PostgreSQL, so replicas share the work
without double delivery while they are alive), POSTs them in id order per sink, and on failure retries
with exponential backoff (capped, never giving up). A crash after a POST and before recording it
re-delivers once the lease expires: delivery is at least once; the event id makes it idempotent.
"""

from __future__ import annotations

import logging
import random
import threading
from typing import Any

import httpx
from sqlalchemy import Engine, text

from gridos.alarms.config import AlarmSettings
from gridos.alarms.model import US
from gridos.clock import now_us
from gridos.db import locks
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.alarms.outbox")
LEASE_US = 60 * US
BATCH = 100


_HEADS = "SELECT sink, min(id) FROM alarm_outbox WHERE delivered_us IS NULL GROUP BY sink ORDER BY sink"
# A sink is busy while another worker holds a lease on it, or while its oldest pending row waits for
# its retry: later rows never overtake it, so each sink sees transitions in order.
_BUSY = """
SELECT 1 FROM alarm_outbox WHERE sink = :sink AND delivered_us IS NULL
AND (lease_until_us >= :now OR (id = :head AND next_attempt_us > :now)) LIMIT 1
"""
_CLAIM = """
UPDATE alarm_outbox SET lease_until_us = :lease WHERE id IN (
    SELECT id FROM alarm_outbox WHERE sink = :sink AND delivered_us IS NULL ORDER BY id LIMIT :n
) RETURNING id, sink, format, payload, attempts
"""


class OutboxWorker:
    def __init__(
        self, settings: AlarmSettings, engine: Engine, metrics: Metrics, wakeup: threading.Event
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.wakeup = wakeup
        self.postgres = engine.dialect.name == "postgresql"
        self.client = httpx.Client(timeout=settings.webhook_timeout_seconds)

    def backoff_us(self, attempts: int) -> int:
        """Delay before attempt `attempts + 1`: initial x 2^(attempts-1), capped, +/-10% jitter."""
        base = min(
            self.settings.retry_max_seconds, self.settings.retry_initial_seconds * 2 ** max(0, attempts - 1)
        )
        return round(base * random.uniform(0.9, 1.1) * US)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                delivered = self.deliver_due()
            except Exception:
                log.exception("outbox delivery failed")
                delivered = 0
            if delivered >= BATCH:
                continue
            self.wakeup.wait(self.settings.outbox_poll_seconds)
            self.wakeup.clear()
        self.client.close()

    def deliver_due(self) -> int:
        now = now_us()
        rows = self.claim(now)
        by_sink: dict[str, list[Any]] = {}
        for row in sorted(rows, key=lambda r: r.id):
            by_sink.setdefault(row.sink, []).append(row)
        delivered = 0
        for sink, items in by_sink.items():
            for index, row in enumerate(items):
                error = self._post(sink, row.payload)
                if error is None:
                    delivered += 1
                    self.metrics.alarm_notifications.labels(result="delivered").inc()
                    self._finish(row.id, delivered=True)
                    continue
                self.metrics.alarm_notifications.labels(result="failed").inc()
                attempts = row.attempts + 1
                log.warning(
                    "webhook delivery failed; will retry",
                    extra={"sink": _redact(sink), "attempts": attempts, "error": error[:200]},
                )
                self._finish(row.id, delivered=False, attempts=attempts, error=error)
                # Keep the order per sink: the rest waits behind this one.
                self._release([r.id for r in items[index + 1 :]])
                break
        return delivered

    def claim(self, now: int) -> list[Any]:
        """Lease the next rows of every sink that is not busy. On PostgreSQL an advisory lock per sink
        makes the check-and-lease atomic across replicas."""
        claimed: list[Any] = []
        with self.engine.begin() as conn:
            if not self.postgres:
                locks.sqlite_write_lock(conn)  # first, so the reads below cannot go stale
            for sink, head in conn.execute(text(_HEADS)).all():
                if self.postgres:
                    locks.xact_lock(conn, locks.series_key("outbox", sink))
                params = {"sink": sink, "now": now, "head": head}
                if conn.execute(text(_BUSY), params).first() is not None:
                    continue
                claimed += conn.execute(
                    text(_CLAIM), {"sink": sink, "lease": now + LEASE_US, "n": BATCH}
                ).all()
        return claimed

    def _post(self, sink: str, payload: str) -> str | None:
        try:
            r = self.client.post(sink, content=payload, headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= r.status_code < 300:
            return None
        return f"HTTP {r.status_code}: {r.text[:200]}"

    def _finish(self, row_id: int, delivered: bool, attempts: int = 0, error: str | None = None) -> None:
        now = now_us()
        with self.engine.begin() as conn:
            if delivered:
                conn.execute(
                    text(
                        "UPDATE alarm_outbox SET delivered_us = :now, attempts = attempts + 1, "
                        "lease_until_us = NULL WHERE id = :id"
                    ),
                    {"now": now, "id": row_id},
                )
            else:
                conn.execute(
                    text(
                        "UPDATE alarm_outbox SET attempts = :a, next_attempt_us = :next, last_error = :e, "
                        "lease_until_us = NULL WHERE id = :id"
                    ),
                    {"a": attempts, "next": now + self.backoff_us(attempts), "e": error, "id": row_id},
                )

    def _release(self, ids: list[int]) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE alarm_outbox SET lease_until_us = NULL WHERE id = :id"), [{"id": i} for i in ids]
            )


def _redact(url: str) -> str:
    """Never log credentials or query strings of a sink URL."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"", query=None))
