"""The one way alarm state changes: lock the series, load their alarm points, apply a change, and commit
state, transitions (the audit trail) and notification outbox rows together.

The lock is per (device, measurement): pg_advisory_xact_lock on PostgreSQL, the single writer on SQLite.
Two replicas applying the same samples therefore produce one transition: the second finds the sample
already applied. After the commit come the cache, the metrics and the live streams.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from gridos.alarms import repository
from gridos.alarms.cache import AlarmCache
from gridos.alarms.model import US, AlarmRecord, Condition, Transition
from gridos.alarms.notifications import Notifier
from gridos.alarms.repository import Key, Series, alarm_view, event_view
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.tables import alarm_events
from gridos.clock import now_us
from gridos.db import locks
from gridos.observability.metrics import Metrics

# The first line of this process's NOTIFYs: the replication listener (gridos.alarms.replication) needs no
# sync for what this process committed itself.
ORIGIN = uuid.uuid4().hex
# PostgreSQL refuses NOTIFY payloads of 8,000 bytes or more; the transitions then go by the listener's sync.
NOTIFY_LIMIT = 7900


def notify_payload(events: list[dict[str, Any]]) -> str:
    """ORIGIN, then the committed transitions as JSON when they fit: other replicas put them on their SSE
    streams straight from the notification, without reading them back first (a cross-replica SSE client
    otherwise waited for the listener's sync, ~10 ms at the median under load)."""
    if events:
        payload = f"{ORIGIN}\n{json.dumps(events, separators=(',', ':'), default=str)}"
        if len(payload.encode()) < NOTIFY_LIMIT:
            return payload
    return ORIGIN


@dataclass(slots=True)
class Committed:
    event: dict[str, Any]
    received_us: int | None


class Workspace:
    """The alarm points of the locked series inside one transaction."""

    def __init__(self, loaded: dict[Key, AlarmRecord], sites: Callable[[str], str]) -> None:
        self.records = loaded
        self.before = {k: r.fingerprint() for k, r in loaded.items()}
        self.transitions: list[tuple[Key, Transition]] = []
        self._sites = sites

    def get(self, device_id: str, measurement: str, condition: Condition) -> AlarmRecord:
        key = (device_id, measurement, condition)
        rec = self.records.get(key)
        if rec is None:
            rec = self.records[key] = AlarmRecord(
                device_id, measurement, condition, site=self._sites(device_id)
            )
        return rec

    @contextlib.contextmanager
    def isolated(self, series: Series) -> Iterator[list[bool]]:
        """Apply changes to one series; if they raise, put its alarm points back as they were and drop
        its transitions. Yields a list that is truthy when the changes were kept."""
        saved = {k: r.copy() for k, r in self.records.items() if k[:2] == series}
        mark = len(self.transitions)
        ok = [True]
        try:
            yield ok
        except Exception:
            ok.clear()
            del self.transitions[mark:]
            for key in [k for k in self.records if k[:2] == series]:
                del self.records[key]
            self.records.update(saved)

    def emit(self, rec: AlarmRecord, transitions: Iterable[Transition]) -> None:
        key = (rec.device_id, rec.measurement, rec.condition)
        self.transitions.extend((key, t) for t in transitions)

    def changed(self) -> list[AlarmRecord]:
        keys = {k for k, _ in self.transitions}
        out = []
        for key, rec in self.records.items():
            if key in keys or self.before.get(key, AlarmRecord(*key).fingerprint()) != rec.fingerprint():
                out.append(rec)
        return out


@dataclass(eq=False)
class UnitOfWork:
    engine: Engine
    metrics: Metrics
    cache: AlarmCache
    notifier: Notifier
    broadcaster: TransitionBroadcaster
    postgres: bool = field(init=False)
    _sqlite_lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.postgres = self.engine.dialect.name == "postgresql"

    def transact(self, series: Iterable[Series], mutate: Callable[[Workspace], None]) -> list[Committed]:
        """Lock the series, load their alarm points, apply `mutate`, persist state + journal + outbox."""
        keys = sorted(set(series))
        if not keys:
            return []
        if self.postgres:
            with self.engine.begin() as conn:
                committed = self._apply(conn, keys, mutate)
            return committed()
        with self._sqlite_lock:
            with self.engine.begin() as conn:
                locks.sqlite_write_lock(conn)  # before reading, so the read cannot go stale
                committed = self._apply(conn, keys, mutate)
            return committed()

    def within(
        self, conn: Connection, series: Iterable[Series], mutate: Callable[[Workspace], None]
    ) -> Callable[[], list[Committed]]:
        """`transact` inside the caller's PostgreSQL transaction (ingest's: one commit, so one WAL flush,
        for a batch and the alarms it raises). Returns what to call once that transaction committed."""
        keys = sorted(set(series))
        if not keys:
            return list
        return self._apply(conn, keys, mutate)

    def _apply(
        self, conn: Connection, keys: list[Series], mutate: Callable[[Workspace], None]
    ) -> Callable[[], list[Committed]]:
        committed: list[Committed] = []
        if self.postgres:
            # One round trip; the locks are taken in the sorted order of `keys` (no deadlock).
            conn.execute(
                text("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:keys AS bigint[])) AS k"),
                {"keys": [locks.series_key(d, m) for d, m in keys]},
            )
        loaded = {repository.key_of(rec): rec for rec in repository.points_of(conn, keys)}
        ws = Workspace(loaded, self.cache.site_of)
        mutate(ws)
        at = now_us()
        changed = ws.changed()
        repository.save_points(conn, changed, at)
        event_rows = [_event_row(ws.records[key], tr) for key, tr in ws.transitions]
        ids = repository.insert_events(conn, event_rows)
        for (_key, tr), values, event_id in zip(ws.transitions, event_rows, ids, strict=True):
            committed.append(Committed(event_view(values | {"id": event_id}), tr.received_us))
        self.notifier.enqueue(conn, [c.event for c in committed], at)
        if self.postgres:
            # Delivered only if this commits: other replicas then stream the transitions and sync at once.
            conn.execute(
                text("SELECT pg_notify('gridos_alarms', :payload)"),
                {"payload": notify_payload([c.event for c in committed])},
            )
        earlier = (
            self._earlier(conn, committed)
            if committed and self.postgres and self.broadcaster.subscribers
            else []
        )

        def after_commit() -> list[Committed]:
            """The cache, the metrics and the live streams."""
            done = now_us()
            with self.cache.lock:
                for rec in changed:
                    self.cache.keep(rec.copy())
                    self.cache.drop_guard((rec.device_id, rec.measurement))
            for row in earlier:
                self.broadcaster.publish({"event": "transition", "data": event_view(row)}, row.id)
            for c in committed:
                self.metrics.alarm_transitions.labels(to_state=c.event["to_state"]).inc()
                if c.received_us is not None and c.event["action"] == "activate":
                    self.metrics.alarm_latency.observe(max(0, done - c.received_us) / US)
                self.broadcaster.publish({"event": "transition", "data": c.event}, c.event["id"])
            if committed and self.notifier.sinks:
                self.notifier.wakeup.set()
            return committed

        return after_commit

    @staticmethod
    def _earlier(conn: Connection, committed: list[Committed]) -> list[Any]:
        """The recent transitions of the same alarms before these, read under their locks (in the same
        transaction: no second connection, which under load costs a round trip more): those another
        replica committed and this process has not streamed yet go out first, so per alarm SSE clients see
        transitions in commit order (ids of one alarm are assigned under its lock: id order is commit
        order). The broadcaster skips the ones already streamed."""
        first = min(c.event["id"] for c in committed)
        return list(
            conn.execute(
                select(alarm_events)
                .where(
                    alarm_events.c.alarm_id.in_({c.event["alarm_id"] for c in committed}),
                    alarm_events.c.id < first,
                    alarm_events.c.at_us > now_us() - 10 * US,
                )
                .order_by(alarm_events.c.id)
            ).all()
        )


def _event_row(rec: AlarmRecord, tr: Transition) -> dict[str, Any]:
    return {
        "alarm_id": rec.id,
        "device_id": rec.device_id,
        "measurement": rec.measurement,
        "condition": rec.condition.value,
        "site": rec.site,
        "priority": rec.priority.value,
        "action": tr.action,
        "from_state": tr.from_state.value,
        "to_state": tr.to_state.value,
        "at_us": tr.at_us,
        "actor": tr.actor,
        "comment": tr.comment,
        "value": tr.value,
        "limit_value": tr.limit,
        "sample_ts_us": tr.sample_ts_us,
        "received_us": tr.received_us,
        "snapshot": alarm_view(rec),
    }
