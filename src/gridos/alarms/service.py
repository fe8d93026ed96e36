"""Alarm evaluation, persistence and operator actions.

The ingest path calls `observe(rows)` after every committed batch. Each row is checked in memory
against a cached copy of its alarm points; only a sample that can change something persistent (crossing
a limit or its deadband, a pending on/off delay) goes to the database. There, one transaction per batch
takes a lock per (device, measurement) (pg_advisory_xact_lock on PostgreSQL; the single writer on
SQLite), re-reads the alarm points, re-applies the same samples to the stored state and writes the new
state, the transitions (the audit trail) and the notification outbox rows together. Two replicas fed the
same samples therefore produce one transition: the second finds the sample already applied.

The in-memory cache is only a filter; the database is the truth. Changes made by other replicas reach the
cache through `sync()`, which also feeds their transitions to this process's SSE subscribers.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, insert, or_, select, text, update

from gridos.alarms import model
from gridos.alarms.config import AlarmSettings
from gridos.alarms.model import (
    PRIORITY_RANK,
    US,
    AlarmRecord,
    Chatter,
    Condition,
    IllegalTransition,
    LimitSpec,
    Priority,
    ShelveKind,
    State,
    Transition,
)
from gridos.alarms.rules import (
    MAX_DELAY_S,
    MAX_LIMIT,
    DeviceInfo,
    Rule,
    RuleCreate,
    RuleFields,
    default_specs,
    rule_specs,
)
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.tables import alarm_events, alarm_outbox, alarm_rule_audit, alarm_rules, alarms
from gridos.db.tables import devices, latest_samples
from gridos.errors import Conflict, InvalidInput, NotFound
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.alarms")

_T = TypeVar("_T")
COMM = "communication"
Key = tuple[str, str, Condition]
Series = tuple[str, str]
INVALID_QUALITY = 2


def now_us() -> int:
    return time.time_ns() // 1000


def iso(us: int | None) -> str | None:
    if us is None:
        return None
    return datetime.fromtimestamp(us / US, UTC).isoformat().replace("+00:00", "Z")


def lock_key(device_id: str, measurement: str) -> int:
    """A stable signed 64-bit key per series for pg_advisory_xact_lock (hash() differs per process)."""
    digest = hashlib.blake2b(f"{device_id}\x00{measurement}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# -- rows <-> records -----------------------------------------------------------------------------
def record_from_row(row: Any) -> AlarmRecord:
    m = row._mapping
    return AlarmRecord(
        device_id=m["device_id"],
        measurement=m["measurement"],
        condition=Condition(m["condition"]),
        site=m["site"],
        id=m["id"],
        priority=Priority(m["priority"]),
        core=State(m["core"]),
        condition_active=bool(m["condition_active"]),
        latched=bool(m["latched"]),
        pending_on_us=m["pending_on_us"],
        pending_off_us=m["pending_off_us"],
        last_ts_us=m["last_ts_us"],
        shelved=ShelveKind(m["shelved"]) if m["shelved"] else None,
        shelved_until_us=m["shelved_until_us"],
        suppressed=bool(m["suppressed"]),
        out_of_service=bool(m["out_of_service"]),
        activations=list(m["activations"] or []),
        chattering=bool(m["chattering"]),
        value=m["value"],
        limit=m["limit_value"],
        activated_at_us=m["activated_at_us"],
        acked_at_us=m["acked_at_us"],
        changed_at_us=m["changed_at_us"],
        actor=m["actor"],
        comment=m["comment"],
        message=m["message"],
        version=m["version"],
    )


def record_values(rec: AlarmRecord, at_us: int) -> dict[str, Any]:
    return {
        "device_id": rec.device_id,
        "measurement": rec.measurement,
        "condition": rec.condition.value,
        "site": rec.site,
        "priority": rec.priority.value,
        "state": rec.state.value,
        "core": rec.core.value,
        "condition_active": rec.condition_active,
        "latched": rec.latched,
        "pending_on_us": rec.pending_on_us,
        "pending_off_us": rec.pending_off_us,
        "last_ts_us": rec.last_ts_us,
        "shelved": rec.shelved.value if rec.shelved else None,
        "shelved_until_us": rec.shelved_until_us,
        "suppressed": rec.suppressed,
        "out_of_service": rec.out_of_service,
        "activations": rec.activations,
        "chattering": rec.chattering,
        "value": rec.value,
        "limit_value": rec.limit,
        "activated_at_us": rec.activated_at_us,
        "acked_at_us": rec.acked_at_us,
        "changed_at_us": rec.changed_at_us,
        "actor": rec.actor,
        "comment": rec.comment,
        "message": rec.message,
        "version": rec.version,
        "updated_us": at_us,
    }


def alarm_view(rec: AlarmRecord) -> dict[str, Any]:
    return {
        "id": rec.id,
        "device_id": rec.device_id,
        "site": rec.site,
        "measurement": rec.measurement,
        "condition": rec.condition.value,
        "priority": rec.priority.value,
        "state": rec.state.value,
        "condition_active": rec.condition_active,
        "acknowledged": rec.core in (State.active_acked, State.normal),
        "latched": rec.latched,
        "shelved": ({"kind": rec.shelved.value, "until": iso(rec.shelved_until_us)} if rec.shelved else None),
        "suppressed": rec.suppressed,
        "out_of_service": rec.out_of_service,
        "chattering": rec.chattering,
        "value": rec.value,
        "limit": rec.limit,
        "message": rec.message,
        "activated_at": iso(rec.activated_at_us),
        "acked_at": iso(rec.acked_at_us),
        "changed_at": iso(rec.changed_at_us),
        "last_actor": rec.actor,
        "last_comment": rec.comment,
    }


def event_view(row: Any) -> dict[str, Any]:
    m = row._mapping if hasattr(row, "_mapping") else row
    return {
        "id": m["id"],
        "alarm_id": m["alarm_id"],
        "device_id": m["device_id"],
        "site": m["site"],
        "measurement": m["measurement"],
        "condition": m["condition"],
        "priority": m["priority"],
        "action": m["action"],
        "from_state": m["from_state"],
        "to_state": m["to_state"],
        "at": iso(m["at_us"]),
        "actor": m["actor"],
        "comment": m["comment"],
        "value": m["value"],
        "limit": m["limit_value"],
        "sample_ts": iso(m["sample_ts_us"]),
        "received_at": iso(m["received_us"]),
        "alarm": m.get("snapshot"),
    }


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


class AlarmService:
    """Thread-safe. One per process, on services.alarms (gridos.services)."""

    def __init__(
        self,
        settings: AlarmSettings,
        engine: Engine,
        metrics: Metrics,
        measurements: Iterable[str],
        broadcaster: TransitionBroadcaster | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.measurements = set(measurements)
        self.postgres = engine.dialect.name == "postgresql"
        self.broadcaster = broadcaster or TransitionBroadcaster()
        self.chatter = Chatter(settings.chatter_threshold, round(settings.chatter_window_seconds * US))
        self.sinks: list[tuple[str, str]] = [(u, "gridos") for u in settings.webhooks] + [
            (u, "alertmanager") for u in settings.alertmanagers
        ]
        self.outbox_wakeup = threading.Event()
        self._lock = threading.RLock()
        self._sqlite_lock = threading.Lock()
        self._records: dict[Key, AlarmRecord] = {}
        self._devices: dict[str, DeviceInfo] = {}
        self._rules: dict[Series, Rule] = {}
        self._specs: dict[Series, tuple[LimitSpec, ...]] = {}
        # Per series, the band of values that certainly changes nothing while every alarm point of the
        # series is quiet (normal, nothing pending): the ingest fast path is one comparison per sample.
        self._guards: dict[Series, tuple[float, float]] = {}
        self._guard_generation = 0  # bumped before a guard is dropped: a guard computed meanwhile is not kept
        self._rules_mark: int | None = None
        self._sync_since_us = 0
        self.flood: dict[str, Any] = {"active": False, "count": 0}
        self.errors = 0

    # -- start-up ---------------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the in-memory view from storage: devices, rules, and every alarm point's state."""
        self.reload_devices()
        self.reload_rules()
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarms)).all()
        with self._lock:
            self._records = {}
            for row in rows:
                rec = record_from_row(row)
                self._records[(rec.device_id, rec.measurement, rec.condition)] = rec
            self._guard_generation += 1
            self._guards = {}
        self._sync_since_us = now_us()

    def reload_devices(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(
                    devices.c.id,
                    devices.c.type,
                    devices.c.site,
                    devices.c.nominal_voltage,
                    devices.c.rated_current,
                    devices.c.nominal_frequency,
                    devices.c.expected_interval_s,
                )
            ).all()
        infos = {r.id: DeviceInfo(*r) for r in rows}
        with self._lock:
            if infos != self._devices:
                self._devices = infos
                self._specs = {}
                self._guard_generation += 1
                self._guards = {}

    def reload_rules(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarm_rules)).all()
            mark = conn.execute(select(func.max(alarm_rule_audit.c.id))).scalar()
        rules = {(r.device_id, r.measurement): rule_from_row(r) for r in rows}
        with self._lock:
            self._rules = rules
            self._specs = {}
            self._guard_generation += 1
            self._guards = {}
            self._rules_mark = mark

    def device(self, device_id: str) -> DeviceInfo | None:
        info = self._devices.get(device_id)
        if info is None:
            with self.engine.connect() as conn:
                row = conn.execute(
                    select(
                        devices.c.id,
                        devices.c.type,
                        devices.c.site,
                        devices.c.nominal_voltage,
                        devices.c.rated_current,
                        devices.c.nominal_frequency,
                        devices.c.expected_interval_s,
                    ).where(devices.c.id == device_id)
                ).first()
            if row is None:
                return None
            info = DeviceInfo(*row)
            with self._lock:
                self._devices[device_id] = info
                for series in [s for s in self._specs if s[0] == device_id]:
                    del self._specs[series]
                    self._guard_generation += 1
                    self._guards.pop(series, None)
        return info

    def site_of(self, device_id: str) -> str:
        info = self.device(device_id)
        if info is not None:
            return info.site
        return device_id.split("/", 1)[0] if "/" in device_id else "default"

    def specs(self, device_id: str, measurement: str) -> tuple[LimitSpec, ...]:
        """Effective limits: the configured rule, else the defaults from the device's ratings."""
        series = (device_id, measurement)
        specs = self._specs.get(series)
        if specs is not None:
            return specs
        rule = self._rules.get(series)
        try:
            if rule is not None:
                specs = rule_specs(rule)
            else:
                info = self.device(device_id)
                specs = default_specs(info, measurement) if info else ()
        except Exception:
            # A rule stored before its ranges were validated (off_delay_s: 1e303 -> round(inf)): this
            # series has no limits until the rule is fixed; every other series is evaluated as usual.
            self._failed(series, "its alarm rule cannot be evaluated; fix or delete it")
            specs = ()
        with self._lock:
            self._specs[series] = specs
        return specs

    # -- the ingest path --------------------------------------------------------------------------
    def observe(self, rows: Sequence[tuple[str, str, int, float, int, int]]) -> None:
        """TelemetryService observer: called with every committed batch. Never raises."""
        if not self.settings.enabled or not rows:
            return
        try:
            self._observe(rows)
        except Exception:
            # Nothing is lost for good: the cache was not updated, so the next sample past the limit
            # takes the database path again; staleness is re-checked from latest_samples.
            self.errors += 1
            self.metrics.alarm_errors.inc()
            log.exception("alarm evaluation failed")

    def _failed(self, series: Series, what: str) -> None:
        self.errors += 1
        self.metrics.alarm_errors.inc()
        log.exception(
            "alarm evaluation failed for one series",
            extra={"device_id": series[0], "measurement": series[1], "error": what},
        )

    def _guard(self, series: Series) -> tuple[float, float]:
        generation = self._guard_generation
        lo, hi = -math.inf, math.inf
        for spec in self.specs(*series):
            rec = self._records.get((series[0], series[1], spec.condition))
            if rec is not None and (rec.condition_active or rec.pending_on_us is not None):
                lo, hi = math.inf, -math.inf  # never inside: every sample takes the careful path
                break
            if spec.high:
                hi = min(hi, spec.value)
            else:
                lo = max(lo, spec.value)
        if generation == self._guard_generation:
            self._guards[series] = (lo, hi)
        return lo, hi

    def _may_change(self, series: Series, value: float, now: int) -> bool:
        for spec in self.specs(*series):
            rec = self._records.get((series[0], series[1], spec.condition))
            if rec is None:
                if spec.exceeds(value):
                    return True
            elif not model.idle(rec, spec, value, now):
                return True
        return False

    def refresh(self, device_ids: Iterable[str]) -> int:
        """Bring the cached alarm points of these devices up to what the database holds. The cache decides
        which samples may skip the database; another replica may have changed a point since this one last
        synced (its notification can arrive after the next sample does), and a stale cache would skip the
        sample that raises or clears it. One indexed read of (key, version) per batch; full rows only for
        points that changed. Returns how many points were refreshed."""
        ids = sorted(set(device_ids))
        stale: list[Key] = []
        with self.engine.connect() as conn:
            for chunk in _chunks(ids, 500):
                for d, m, c, version in conn.execute(
                    select(
                        alarms.c.device_id, alarms.c.measurement, alarms.c.condition, alarms.c.version
                    ).where(alarms.c.device_id.in_(chunk))
                ):
                    cached = self._records.get((d, m, Condition(c)))
                    if cached is None or cached.version < version:
                        stale.append((d, m, Condition(c)))
            if not stale:
                return 0
            fresh = []
            for series_chunk in _chunks(sorted({(d, m) for d, m, _ in stale}), 200):
                cond = or_(
                    *(and_(alarms.c.device_id == d, alarms.c.measurement == m) for d, m in series_chunk)
                )
                fresh += [record_from_row(r) for r in conn.execute(select(alarms).where(cond)).all()]
        with self._lock:
            for rec in fresh:
                key = (rec.device_id, rec.measurement, rec.condition)
                cached = self._records.get(key)
                if cached is None or cached.version < rec.version:
                    self._records[key] = rec
                    self._guard_generation += 1
                    self._guards.pop((rec.device_id, rec.measurement), None)
        return len(stale)

    def _observe(self, rows: Sequence[tuple[str, str, int, float, int, int]]) -> None:
        self.refresh({row[0] for row in rows})
        now = now_us()
        guards = self._guards
        records = self._records
        candidates: set[Series] = set()
        last_received: dict[str, int] = {}
        for device_id, measurement, _ts, value, quality, received in rows:
            last_received[device_id] = received
            if quality == INVALID_QUALITY:
                continue
            series = (device_id, measurement)
            band = guards.get(series)
            if band is None:
                band = self._guard(series)
            if band[0] <= value <= band[1] or series in candidates:
                continue
            try:
                if self._may_change(series, value, now):
                    candidates.add(series)
            except Exception:
                self._failed(series, "filter")
        comm_back = [
            d
            for d, received in last_received.items()
            if (rec := records.get((d, COMM, Condition.comm))) is not None
            and rec.condition_active
            and received > (rec.activated_at_us or 0)
        ]
        if not candidates and not comm_back:
            return
        by_series: dict[Series, list[tuple[int, float, int]]] = defaultdict(list)
        if candidates:
            for device_id, measurement, ts, value, quality, received in rows:
                if quality != INVALID_QUALITY and (device_id, measurement) in candidates:
                    by_series[(device_id, measurement)].append((ts, value, received))
        work = {s: sorted(by_series[s]) for s in candidates}

        def mutate(ws: Workspace) -> None:
            at = now_us()
            for series, samples in work.items():
                # Each series on its own: one that fails is rolled back and logged, the others commit.
                with ws.isolated(series) as ok:
                    for spec in self.specs(*series):
                        rec = ws.get(series[0], series[1], spec.condition)
                        for ts, value, received in samples:
                            ws.emit(rec, model.on_sample(rec, spec, value, ts, received, at, self.chatter))
                if not ok:
                    self._failed(series, "evaluation")
            for device_id in comm_back:
                rec = ws.get(device_id, COMM, Condition.comm)
                if rec.condition_active and last_received[device_id] > (rec.activated_at_us or 0):
                    rec.message = None
                    ws.emit(
                        rec,
                        model.clear(
                            rec, at, received_us=last_received[device_id], comment="data received again"
                        ),
                    )

        self.transact([*work, *((d, COMM) for d in comm_back)], mutate)

    # -- the one way state changes ----------------------------------------------------------------
    def transact(self, series: Iterable[Series], mutate: Callable[[Workspace], None]) -> list[Committed]:
        """Lock the series, load their alarm points, apply `mutate`, persist state + journal + outbox."""
        keys = sorted(set(series))
        if not keys:
            return []
        if self.postgres:
            return self._transact(keys, mutate)
        with self._sqlite_lock:
            return self._transact(keys, mutate)

    def _transact(self, keys: list[Series], mutate: Callable[[Workspace], None]) -> list[Committed]:
        committed: list[Committed] = []
        with self.engine.begin() as conn:
            if self.postgres:
                # One round trip; the locks are taken in the sorted order of `keys` (no deadlock). The
                # notification is delivered only if this commits: other replicas then sync at once.
                conn.execute(
                    text(
                        "SELECT count(pg_advisory_xact_lock(k)), pg_notify('gridos_alarms', '') "
                        "FROM unnest(CAST(:keys AS bigint[])) AS k"
                    ),
                    {"keys": [lock_key(d, m) for d, m in keys]},
                )
            else:
                # Take SQLite's write lock before reading, so the read cannot go stale under another writer.
                conn.execute(delete(alarm_outbox).where(alarm_outbox.c.id == -1))
            loaded: dict[Key, AlarmRecord] = {}
            for chunk in _chunks(keys, 200):
                cond = or_(*(and_(alarms.c.device_id == d, alarms.c.measurement == m) for d, m in chunk))
                for row in conn.execute(select(alarms).where(cond)).all():
                    rec = record_from_row(row)
                    loaded[(rec.device_id, rec.measurement, rec.condition)] = rec
            ws = Workspace(loaded, self.site_of)
            mutate(ws)
            at = now_us()
            changed = ws.changed()
            updates = []
            for rec in changed:
                rec.version += 1
                values = record_values(rec, at)
                if rec.id is None:
                    rec.id = conn.execute(insert(alarms).values(values).returning(alarms.c.id)).scalar_one()
                else:
                    updates.append(values | {"_id": rec.id})
            if updates:
                conn.execute(update(alarms).where(alarms.c.id == bindparam("_id")), updates)
            event_rows = []
            for key, tr in ws.transitions:
                rec = ws.records[key]
                event_rows.append(
                    {
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
                )
            if event_rows:
                ids = conn.execute(
                    insert(alarm_events).returning(alarm_events.c.id, sort_by_parameter_order=True),
                    event_rows,
                ).scalars()
                for (_key, tr), values, event_id in zip(ws.transitions, event_rows, ids, strict=True):
                    committed.append(Committed(event_view(values | {"id": event_id}), tr.received_us))
            if committed and self.sinks:
                self._enqueue(conn, committed, at)
        # Committed: now the cache, the metrics and the live streams.
        done = now_us()
        with self._lock:
            for rec in changed:
                cached = self._records.get((rec.device_id, rec.measurement, rec.condition))
                if cached is None or cached.version < rec.version:
                    self._records[(rec.device_id, rec.measurement, rec.condition)] = rec.copy()
                self._guard_generation += 1
                self._guards.pop((rec.device_id, rec.measurement), None)
        if committed and self.postgres and self.broadcaster.subscribers:
            self._publish_earlier(committed)
        for c in committed:
            self.metrics.alarm_transitions.labels(to_state=c.event["to_state"]).inc()
            if c.received_us is not None and c.event["action"] == "activate":
                self.metrics.alarm_latency.observe(max(0, done - c.received_us) / US)
            self.broadcaster.publish({"event": "transition", "data": c.event}, c.event["id"])
        if committed and self.sinks:
            self.outbox_wakeup.set()
        return committed

    def _publish_earlier(self, committed: list[Committed]) -> None:
        """Another replica's transitions of the same alarms that this process has not streamed yet go out
        first: per alarm, SSE clients see transitions in commit order (ids of one alarm are assigned under
        its lock, so id order is commit order)."""
        first = min(c.event["id"] for c in committed)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(alarm_events)
                .where(
                    alarm_events.c.alarm_id.in_({c.event["alarm_id"] for c in committed}),
                    alarm_events.c.id < first,
                    alarm_events.c.at_us > now_us() - 10 * US,
                )
                .order_by(alarm_events.c.id)
            ).all()
        for row in rows:
            self.broadcaster.publish({"event": "transition", "data": event_view(row)}, row.id)

    def _enqueue(self, conn: Connection, committed: list[Committed], at: int) -> None:
        from gridos.alarms.outbox import payload_for

        rows = [
            {
                "event_id": c.event["id"],
                "sink": url,
                "format": fmt,
                "payload": payload_for(fmt, c.event, self.settings.external_url),
                "attempts": 0,
                "next_attempt_us": at,
                "created_us": at,
            }
            for c in committed
            for url, fmt in self.sinks
        ]
        conn.execute(insert(alarm_outbox), rows)

    # -- operator actions -------------------------------------------------------------------------
    def get(self, alarm_id: int) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(alarms).where(alarms.c.id == alarm_id)).first()
        if row is None:
            raise NotFound(f"alarm {alarm_id} does not exist")
        return alarm_view(record_from_row(row))

    def _act(self, alarm_id: int, action: Callable[[AlarmRecord, int], list[Transition]]) -> dict[str, Any]:
        with self.engine.connect() as conn:
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
                (s for s in self.specs(rec.device_id, rec.measurement) if s.condition is rec.condition), None
            )
            ws.emit(rec, model.tick(rec, at, spec, self.chatter))
            try:
                ws.emit(rec, action(rec, at))
            except IllegalTransition as exc:
                raise Conflict(str(exc), state=rec.state.value) from None
            result.update(alarm_view(rec))

        self.transact([(row.device_id, row.measurement)], mutate)
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
        self._comm(device_id, True, detail, actor="connector")

    def comm_restored(self, device_id: str) -> None:
        """Clear the device's comm-failure alarm (idempotent, thread-safe, blocks for one transaction)."""
        self._comm(device_id, False, "communication restored", actor="connector")

    def _comm(self, device_id: str, failed: bool, detail: str, actor: str) -> None:
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

        self.transact([(device_id, COMM)], mutate)

    def check_staleness(self, now: int | None = None) -> list[str]:
        """Raise comm-failure for devices silent for more than multiplier x expected interval, and clear
        those whose data came back after the alarm. Returns the devices newly raised."""
        now = now or now_us()
        with self.engine.connect() as conn:
            last_seen: dict[str, int] = dict(
                conn.execute(
                    select(latest_samples.c.device_id, func.max(latest_samples.c.received_at)).group_by(
                        latest_samples.c.device_id
                    )
                ).all()
            )
        raised = []
        for device_id, seen in last_seen.items():
            info = self._devices.get(device_id)
            if info is None:
                continue
            allowed = round(self.settings.comm_failure_multiplier * info.expected_interval_s * US)
            rec = self._records.get((device_id, COMM, Condition.comm))
            active = rec is not None and rec.condition_active
            if now - seen > allowed and not active:
                silent = (now - seen) / US
                self._comm(
                    device_id,
                    True,
                    f"no sample for {silent:.0f} s (expected every {info.expected_interval_s:g} s)",
                    actor="system",
                )
                raised.append(device_id)
            elif active and rec is not None and seen > (rec.activated_at_us or 0) and now - seen <= allowed:
                self._comm(device_id, False, "data received again", actor="system")
        return raised

    # -- time-driven ------------------------------------------------------------------------------
    def supervise(self, now: int | None = None) -> None:
        """Shelve expiry, re-alarm, end of chattering; conditions whose rule was removed are cleared."""
        now = now or now_us()
        due: set[Series] = set()
        with self._lock:
            records = list(self._records.values())
        for rec in records:
            if (rec.shelved_until_us is not None and rec.shelved_until_us <= now) or rec.chattering:
                due.add((rec.device_id, rec.measurement))
            elif rec.condition_active and rec.condition is not Condition.comm:
                specs = {s.condition: s for s in self.specs(rec.device_id, rec.measurement)}
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
                specs = {s.condition: s for s in self.specs(rec.device_id, rec.measurement)}
                spec = specs.get(rec.condition)
                if spec is None and rec.condition_active:
                    ws.emit(rec, model.clear(rec, at, comment="rule removed or disabled"))
                ws.emit(rec, model.tick(rec, at, spec, self.chatter))

        self.transact(due, mutate)

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

    # -- replicas ---------------------------------------------------------------------------------
    def sync(self) -> int:
        """Pick up what other replicas committed: alarm state into the cache, transitions onto this
        process's SSE streams, rule changes. Returns the number of transitions published."""
        started = now_us()
        # A transaction stamps updated_us before it commits; the margin covers commits that take longer
        # to become visible than the polling interval.
        since = self._sync_since_us - 5 * US
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarms).where(alarms.c.updated_us > since)).all()
            events = conn.execute(
                select(alarm_events).where(alarm_events.c.at_us > since).order_by(alarm_events.c.id)
            ).all()
            mark = conn.execute(select(func.max(alarm_rule_audit.c.id))).scalar()
        with self._lock:
            for row in rows:
                rec = record_from_row(row)
                key = (rec.device_id, rec.measurement, rec.condition)
                cached = self._records.get(key)
                if cached is None or cached.version < rec.version:
                    self._records[key] = rec
                    self._guard_generation += 1
                    self._guards.pop((rec.device_id, rec.measurement), None)
        published = 0
        if self.broadcaster.subscribers:
            for row in events:
                if not self.broadcaster.seen(row.id):
                    self.broadcaster.publish({"event": "transition", "data": event_view(row)}, row.id)
                    published += 1
        if mark != self._rules_mark:
            self.reload_rules()
        self._sync_since_us = started
        return published

    def listen(self, stop: threading.Event) -> None:
        """PostgreSQL: sync as soon as another replica commits a transition (LISTEN/NOTIFY), and at
        least every sync_seconds. Other backends poll (see gridos.alarms.install)."""
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Start-up already loaded the state; leave the first second to the first requests.
        stop.wait(1.0)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, application_name="gridos-alarms") as conn:
                    conn.execute("LISTEN gridos_alarms")
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=self.settings.sync_seconds, stop_after=1):
                            pass
                        self.sync()
            except Exception:
                log.exception("alarm listener failed; reconnecting")
                stop.wait(1.0)

    # -- queries ----------------------------------------------------------------------------------
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

    # -- rules ------------------------------------------------------------------------------------
    def list_rules(self, device_id: str | None, measurement: str | None) -> list[Rule]:
        q = select(alarm_rules)
        if device_id:
            q = q.where(alarm_rules.c.device_id == device_id)
        if measurement:
            q = q.where(alarm_rules.c.measurement == measurement)
        with self.engine.connect() as conn:
            return [rule_from_row(r) for r in conn.execute(q.order_by(alarm_rules.c.id)).all()]

    def get_rule(self, rule_id: int) -> Rule:
        with self.engine.connect() as conn:
            row = conn.execute(select(alarm_rules).where(alarm_rules.c.id == rule_id)).first()
        if row is None:
            raise NotFound(f"alarm rule {rule_id} does not exist")
        return rule_from_row(row)

    def _check_measurement(self, measurement: str) -> None:
        if measurement not in self.measurements:
            raise InvalidInput(
                f"unknown measurement {measurement!r}; known: {', '.join(sorted(self.measurements))}",
                errors=[{"field": "measurement", "message": "unknown measurement"}],
            )

    def create_rule(self, spec: RuleCreate, actor: str, source: str = "api") -> Rule:
        self._check_measurement(spec.measurement)
        with self.engine.begin() as conn:
            self._lock_rule(conn, spec.device_id, spec.measurement)
            exists = conn.execute(
                select(alarm_rules.c.id).where(
                    alarm_rules.c.device_id == spec.device_id, alarm_rules.c.measurement == spec.measurement
                )
            ).first()
            if exists is not None:
                raise Conflict(
                    f"a rule for {spec.device_id} {spec.measurement} already exists (id {exists.id}); "
                    "PUT /api/v1/alarm-rules/{id} changes it",
                    rule_id=exists.id,
                )
            rule_id = self._insert_rule(conn, spec, actor, source)
        self.reload_rules()
        return self.get_rule(rule_id)

    def _insert_rule(self, conn: Connection, spec: RuleCreate, actor: str, source: str) -> int:
        at = now_us()
        values = _rule_values(spec) | {
            "device_id": spec.device_id,
            "measurement": spec.measurement,
            "source": source,
            "created_us": at,
            "updated_us": at,
            "updated_by": actor,
        }
        rule_id: int = conn.execute(
            insert(alarm_rules).values(values).returning(alarm_rules.c.id)
        ).scalar_one()
        self._audit(
            conn, rule_id, spec.device_id, spec.measurement, "create", actor, None, _rule_doc(spec), None
        )
        return rule_id

    def update_rule(self, rule_id: int, spec: RuleFields, actor: str, comment: str | None = None) -> Rule:
        current = self.get_rule(rule_id)
        with self.engine.begin() as conn:
            self._lock_rule(conn, current.device_id, current.measurement)
            if not self._update_rule(conn, current, spec, actor, "api", comment):
                return current
        self.reload_rules()
        return self.get_rule(rule_id)

    def _update_rule(
        self, conn: Connection, current: Rule, spec: RuleFields, actor: str, source: str, comment: str | None
    ) -> bool:
        before, after = _rule_doc(current), _rule_doc(spec)
        if before == after:
            return False
        conn.execute(
            update(alarm_rules)
            .where(alarm_rules.c.id == current.id)
            .values(_rule_values(spec) | {"updated_us": now_us(), "updated_by": actor, "source": source})
        )
        self._audit(
            conn, current.id, current.device_id, current.measurement, "update", actor, before, after, comment
        )
        return True

    def delete_rule(self, rule_id: int, actor: str, comment: str | None = None) -> None:
        current = self.get_rule(rule_id)
        with self.engine.begin() as conn:
            self._lock_rule(conn, current.device_id, current.measurement)
            conn.execute(delete(alarm_rules).where(alarm_rules.c.id == rule_id))
            self._audit(
                conn,
                rule_id,
                current.device_id,
                current.measurement,
                "delete",
                actor,
                _rule_doc(current),
                None,
                comment,
            )
        self.reload_rules()

    def load_rules(self, rules: list[RuleCreate], actor: str) -> dict[str, int]:
        """Upsert rules from the YAML file; unchanged rules are not rewritten nor audited, so every replica
        may load the same file at start-up."""
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        for spec in rules:
            self._check_measurement(spec.measurement)
            with self.engine.begin() as conn:
                self._lock_rule(conn, spec.device_id, spec.measurement)
                row = conn.execute(
                    select(alarm_rules).where(
                        alarm_rules.c.device_id == spec.device_id,
                        alarm_rules.c.measurement == spec.measurement,
                    )
                ).first()
                if row is None:
                    self._insert_rule(conn, spec, actor, "yaml")
                    counts["created"] += 1
                elif self._update_rule(conn, rule_from_row(row), spec, actor, "yaml", "rules file"):
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
        self.reload_rules()
        return counts

    def _lock_rule(self, conn: Connection, device_id: str, measurement: str) -> None:
        if self.postgres:
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(device_id, "rule:" + measurement)}
            )
        else:
            conn.execute(delete(alarm_outbox).where(alarm_outbox.c.id == -1))

    def _audit(
        self,
        conn: Connection,
        rule_id: int,
        device_id: str,
        measurement: str,
        action: str,
        actor: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        comment: str | None,
    ) -> None:
        conn.execute(
            insert(alarm_rule_audit).values(
                rule_id=rule_id,
                device_id=device_id,
                measurement=measurement,
                action=action,
                actor=actor,
                at_us=now_us(),
                comment=comment,
                before=before,
                after=after,
            )
        )

    def rule_audit(self, rule_id: int | None, limit: int) -> list[dict[str, Any]]:
        q = select(alarm_rule_audit)
        if rule_id is not None:
            q = q.where(alarm_rule_audit.c.rule_id == rule_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(alarm_rule_audit.c.id.desc()).limit(limit)).all()
        return [
            {
                "id": r.id,
                "rule_id": r.rule_id,
                "device_id": r.device_id,
                "measurement": r.measurement,
                "action": r.action,
                "actor": r.actor,
                "at": iso(r.at_us),
                "comment": r.comment,
                "before": r.before,
                "after": r.after,
            }
            for r in rows
        ]

    def effective(self, device_id: str) -> dict[str, Any]:
        """The limits in force for a device, each with where it comes from (rule or default + source)."""
        info = self.device(device_id)
        if info is None:
            raise NotFound(f"device {device_id!r} does not exist")
        out: dict[str, Any] = {}
        for measurement in sorted(self.measurements):
            specs = self.specs(device_id, measurement)
            rule = self._rules.get((device_id, measurement))
            if not specs and rule is None:
                continue
            out[measurement] = {
                "rule_id": rule.id if rule else None,
                "enabled": rule.enabled if rule else True,
                "limits": {
                    s.condition.value: {
                        "value": round(s.value, 6),
                        "priority": s.priority.value,
                        "deadband": round(s.deadband, 6),
                        "on_delay_s": s.on_delay_us / US,
                        "off_delay_s": s.off_delay_us / US,
                        "realarm_s": s.realarm_us / US if s.realarm_us else None,
                        "latching": s.latching,
                        "source": s.source,
                    }
                    for s in specs
                },
            }
        interval = info.expected_interval_s
        out["communication"] = {
            "comm": {
                "stale_after_s": self.settings.comm_failure_multiplier * interval,
                "priority": Priority.high.value,
                "source": f"{self.settings.comm_failure_multiplier:g} x expected_interval_s ({interval:g} s)",
            }
        }
        return {"device_id": device_id, "measurements": out}


def _chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _rule_values(spec: RuleFields) -> dict[str, Any]:
    return {
        "limits": {k: v.model_dump(mode="json") for k, v in spec.limits.items()},
        "on_delay_s": spec.on_delay_s,
        "off_delay_s": spec.off_delay_s,
        "realarm_s": spec.realarm_s,
        "latching": spec.latching,
        "enabled": spec.enabled,
        "description": spec.description,
    }


def _rule_doc(spec: RuleFields) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(_rule_values(spec)))


def rule_from_row(row: Any) -> Rule:
    m = dict(row._mapping) | {
        "created_at": datetime.fromtimestamp(row.created_us / US, UTC),
        "updated_at": datetime.fromtimestamp(row.updated_us / US, UTC),
    }
    try:
        return Rule.model_validate(m)
    except ValidationError as exc:
        # Stored before its ranges were validated (issue 16: off_delay_s 1e303). Shown and evaluated as a
        # disabled rule, so it silences only its own series and can still be read, fixed or deleted.
        log.error(
            "stored alarm rule is outside the valid ranges; treated as disabled until corrected",
            extra={"rule_id": m.get("id"), "error": str(exc.errors()[0]["msg"])},
        )
        return _disabled(m, exc)


def _clamp(value: Any, low: float, high: float) -> float:
    number = float(value) if isinstance(value, int | float) else low
    return min(max(number, low), high) if math.isfinite(number) else high


def _disabled(m: dict[str, Any], exc: ValidationError) -> Rule:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    note = f"disabled: stored value out of range ({where}: {err['msg']})"[:500]
    limits = {
        name: {
            "value": _clamp(limit.get("value"), -MAX_LIMIT, MAX_LIMIT),
            "priority": limit.get("priority", "medium"),
            "deadband": _clamp(limit.get("deadband", 0.0), 0.0, MAX_LIMIT),
        }
        for name, limit in (m.get("limits") or {}).items()
        if isinstance(limit, dict)
    }
    fixed = m | {
        "on_delay_s": _clamp(m.get("on_delay_s"), 0.0, MAX_DELAY_S),
        "off_delay_s": _clamp(m.get("off_delay_s"), 0.0, MAX_DELAY_S),
        "realarm_s": _clamp(m["realarm_s"], 1.0, MAX_DELAY_S) if m.get("realarm_s") else None,
        "enabled": False,
        "description": note,
    }
    try:
        return Rule.model_validate(fixed | {"limits": limits})
    except ValidationError:
        return Rule.model_validate(fixed | {"limits": {}})
