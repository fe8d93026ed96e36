"""The IEC 104 client's readings -> telemetry: a queue filled on c104's threads and emptied by one writer
thread in batches through telemetry.service. Readings are kept and retried while the database is
unavailable: nothing received is dropped (up to max_pending_samples); a value GridOS refuses (outside its
measurement's bounds, a time tag outside the accepted window) is counted and its reason kept."""

import contextlib
import logging
import threading
import time
from collections import deque
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from gridos.errors import InvalidInput, PayloadTooLarge
from gridos.ingest.iec104decode import Reading
from gridos.observability.metrics import Metrics
from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.ingest.iec104")
PROTOCOL = "iec104"


class ReadingWriter:
    def __init__(
        self,
        telemetry: TelemetryService,
        metrics: Metrics,
        stop: threading.Event,
        max_batch_samples: int = 5000,
        max_pending_samples: int = 1_000_000,
    ) -> None:
        """`stop`: the client's stop event (ends run() and wait_written())."""
        self.telemetry = telemetry
        self.metrics = metrics
        self._stop = stop
        self.max_batch = max_batch_samples
        self.max_pending = max_pending_samples
        self._pending: deque[Reading] = deque()
        self.enqueued = 0  # readings queued so far ...
        self._written = 0  # ... and those done with (committed or rejected), in the same order
        self._wake = threading.Condition()
        self._lock = threading.Lock()
        self.dropped = 0  # readings dropped because max_pending_samples was exceeded
        self.committed = 0
        self.last_rejection: str | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def wake(self) -> None:
        """Ends the writer's wait at once (with the stop event set: run() returns)."""
        with self._wake:
            self._wake.notify_all()

    def wait_written(self, count: int, timeout: float) -> None:
        """Until the first `count` readings queued are committed or rejected (or `timeout` s)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            self._wake.notify()
        while self._written < count and time.monotonic() < deadline and not self._stop.is_set():
            self._stop.wait(0.02)

    def enqueue(self, reading: Reading) -> None:
        with self._wake:
            self.enqueued += 1
            self._pending.append(reading)
            if len(self._pending) > self.max_pending:
                self._pending.popleft()
                self._written += 1  # dropped, but done with
                self.dropped += 1
                self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
            if len(self._pending) == 1 or len(self._pending) >= self.max_batch:
                self._wake.notify()

    def run(self) -> None:
        """The writer thread: commits what is queued until the stop event is set."""
        while not self._stop.is_set():
            with self._wake:
                if not self._pending:
                    self._wake.wait(0.5)
            # Let a burst (an interrogation response) gather into one transaction.
            self._stop.wait(0.02)
            try:
                written = self._write_batch()
            except Exception:  # a bug must not end the writer: the readings stay queued
                log.exception("iec104 writer failed")
                written = False
            if not written:
                self._stop.wait(1.0)  # database unavailable: keep the readings, try again

    def flush(self) -> None:
        """What is still queued, committed now (at stop)."""
        for _ in range(100):
            if not self._pending or not self._write_batch():
                return

    def _take(self) -> list[Reading]:
        with self._wake:
            n = min(len(self._pending), self.max_batch)
            return [self._pending.popleft() for _ in range(n)]

    def _give_back(self, batch: list[Reading]) -> None:
        with self._wake:
            self._pending.extendleft(reversed(batch))

    def _write_batch(self) -> bool:
        """Commit one batch; False (and the batch back in front of the queue) if the database failed."""
        batch = self._take()
        if not batch:
            return True
        try:
            ok = self._commit_batch(batch)
        except Exception:
            self._give_back(batch)
            raise
        if ok:
            with self._wake:
                self._written += len(batch)
        return ok

    def _commit_batch(self, batch: list[Reading]) -> bool:
        items = self._items(batch)
        try:
            while items:
                try:
                    rows = self.telemetry.to_rows(items)
                    break
                except InvalidInput as exc:  # e.g. a time tag outside the accepted window
                    bad = {
                        e["item"] for e in exc.extensions.get("errors", []) if isinstance(e.get("item"), int)
                    }
                    self._rejected(exc.detail, len(bad) or len(items))
                    items = [item for i, item in enumerate(items) if i not in bad] if bad else []
            else:
                return True
            self.telemetry.commit(rows, PROTOCOL)
        except PayloadTooLarge as exc:  # max_batch_samples above GRIDOS_MAX_BATCH_SAMPLES: a config error
            self._rejected(exc.detail, len(items))
            return True
        except Exception as exc:
            self._give_back(batch)
            self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
            log.warning(
                "iec104 samples not committed; retrying",
                extra={"error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"},
            )
            return False
        self.committed += len(rows)
        self.metrics.connector_messages.labels(protocol=PROTOCOL).inc(len(batch))
        return True

    def _items(self, batch: list[Reading]) -> list[Any]:
        """Readings -> validated samples: one item per device, timestamp and quality."""
        grouped: dict[tuple[str, datetime, str], dict[str, Any]] = {}
        for r in batch:
            item = grouped.setdefault(
                (r.device_id, r.timestamp, r.quality),
                {"device_id": r.device_id, "timestamp": r.timestamp, "quality": r.quality},
            )
            item[r.measurement] = r.value
        model = self.telemetry.sample_model
        out = []
        for item in grouped.values():
            try:
                out.append(model.model_validate(item))
            except ValidationError as exc:
                # A value outside the measurement's bounds (a wrong scale): drop that value, keep the others.
                bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                self._rejected(
                    f"{item['device_id']}: rejected {', '.join(sorted(bad))}: {exc.errors()[0]['msg']}",
                    len(bad),
                )
                for name in bad:
                    item.pop(name, None)
                if len(item) > 3:
                    with contextlib.suppress(ValidationError):
                        out.append(model.model_validate(item))
        return out

    def _rejected(self, detail: str, count: int) -> None:
        self.metrics.connector_errors.labels(protocol=PROTOCOL).inc(count)
        with self._lock:
            self.last_rejection = detail
        log.warning("iec104 values rejected", extra={"error": detail[:300]})
