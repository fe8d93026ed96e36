"""The ingest hot path: every batch of samples is checked against the cached alarm points.

Only a sample that can change something persistent (crossing a limit or its deadband, a pending on/off
delay) goes to the database, through the unit of work; the rest cost one comparison each (the series'
guard band, `AlarmCache.guard`). On PostgreSQL this happens inside the batch's own transaction, in a
savepoint (`observe_within`): one commit, so one WAL flush, for a batch and the alarms it raises, instead
of two in a row (the second one was ~25 ms of the p99 from sample to SSE under load, docs/benchmarks.md);
an alarm failure rolls back to the savepoint and never fails the ingest. SQLite observes after the commit.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from gridos.alarms import model, repository
from gridos.alarms.cache import AlarmCache
from gridos.alarms.config import AlarmSettings
from gridos.alarms.model import Chatter, Condition
from gridos.alarms.repository import Key, Series
from gridos.alarms.unit_of_work import UnitOfWork, Workspace
from gridos.clock import now_us
from gridos.observability.metrics import Metrics
from gridos.telemetry.samples import INVALID, Sample

log = logging.getLogger("gridos.alarms")
COMM = "communication"


@dataclass(eq=False)
class Evaluator:
    """`observe` is a telemetry BatchObserver (gridos.telemetry.samples)."""

    settings: AlarmSettings
    metrics: Metrics
    cache: AlarmCache
    uow: UnitOfWork
    chatter: Chatter

    def observe(self, rows: Sequence[Sample]) -> None:
        """TelemetryService observer (SQLite): called with every committed batch. Never raises."""
        if not self.settings.enabled or not rows:
            return
        try:
            self._observe(rows, None)
        except Exception:
            self._failed()

    def observe_within(self, conn: Connection, rows: Sequence[Sample]) -> Callable[[], object] | None:
        """TelemetryService transaction observer (PostgreSQL): called inside every batch's transaction
        once its rows are written; returns what to run after the commit. Never raises: a failure rolls
        back to the savepoint, and the batch commits without its alarm changes."""
        if not self.settings.enabled or not rows:
            return None
        try:
            with conn.begin_nested():
                return self._observe(rows, conn)
        except Exception:
            self._failed()
            return None

    def _failed(self) -> None:
        # Nothing is lost for good: the cache was not updated, so the next sample past the limit takes the
        # database path again; staleness is re-checked from latest_samples.
        self.cache.errors += 1
        self.metrics.alarm_errors.inc()
        log.exception("alarm evaluation failed")

    def _may_change(self, series: Series, value: float, now: int) -> bool:
        for spec in self.cache.specs(*series):
            rec = self.cache.records.get((series[0], series[1], spec.condition))
            if rec is None:
                if spec.exceeds(value):
                    return True
            elif not model.idle(rec, spec, value, now):
                return True
        return False

    def refresh(self, device_ids: Iterable[str], conn: Connection | None = None) -> int:
        """Bring the cached alarm points of these devices up to what the database holds. The cache decides
        which samples may skip the database; another replica may have changed a point since this one last
        synced (its notification can arrive after the next sample does), and a stale cache would skip the
        sample that raises or clears it. One indexed read of (key, version) per batch; full rows only for
        points that changed (on `conn` if given). Returns how many points were refreshed."""
        if conn is None:
            with self.uow.engine.connect() as own:
                return self.refresh(device_ids, own)
        stale: list[Key] = []
        for d, m, c, version in repository.versions_of(conn, sorted(set(device_ids))):
            cached = self.cache.records.get((d, m, Condition(c)))
            if cached is None or cached.version < version:
                stale.append((d, m, Condition(c)))
        if not stale:
            return 0
        fresh = repository.points_of(conn, sorted({(d, m) for d, m, _ in stale}))
        with self.cache.lock:
            for rec in fresh:
                self.cache.keep(rec)
        return len(stale)

    def _observe(self, rows: Sequence[Sample], conn: Connection | None) -> Callable[[], object] | None:
        """Check the batch; write what changes on `conn` (then return what to run after its commit) or,
        without one, in a transaction of its own."""
        self.refresh({row[0] for row in rows}, conn)
        now = now_us()
        guards = self.cache.guards
        records = self.cache.records
        candidates: set[Series] = set()
        last_received: dict[str, int] = {}
        for device_id, measurement, _ts, value, quality, received in rows:
            last_received[device_id] = received
            if quality == INVALID:
                continue
            series = (device_id, measurement)
            band = guards.get(series)
            if band is None:
                band = self.cache.guard(series)
            if band[0] <= value <= band[1] or series in candidates:
                continue
            try:
                if self._may_change(series, value, now):
                    candidates.add(series)
            except Exception:
                self.cache.failed(series, "filter")
        comm_back = [
            d
            for d, received in last_received.items()
            if (rec := records.get((d, COMM, Condition.comm))) is not None
            and rec.condition_active
            and received > (rec.activated_at_us or 0)
        ]
        if not candidates and not comm_back:
            return None
        by_series: dict[Series, list[tuple[int, float, int]]] = defaultdict(list)
        if candidates:
            for device_id, measurement, ts, value, quality, received in rows:
                if quality != INVALID and (device_id, measurement) in candidates:
                    by_series[(device_id, measurement)].append((ts, value, received))
        work = {s: sorted(by_series[s]) for s in candidates}

        def mutate(ws: Workspace) -> None:
            at = now_us()
            for series, samples in work.items():
                # Each series on its own: one that fails is rolled back and logged, the others commit.
                with ws.isolated(series) as ok:
                    for spec in self.cache.specs(*series):
                        rec = ws.get(series[0], series[1], spec.condition)
                        for ts, value, received in samples:
                            ws.emit(rec, model.on_sample(rec, spec, value, ts, received, at, self.chatter))
                if not ok:
                    self.cache.failed(series, "evaluation")
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

        keys = [*work, *((d, COMM) for d in comm_back)]
        if conn is not None:
            return self.uow.within(conn, keys, mutate)
        self.uow.transact(keys, mutate)
        return None
