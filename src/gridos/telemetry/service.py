"""Telemetry logic: validate and commit samples; history, latest, grid-status and state-change queries are
answered by gridos.telemetry.queries (SampleQueries), which holds the read SQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from gridos.config import Settings, UnknownDevicePolicy
from gridos.devices.service import DeviceRegistry
from gridos.errors import InvalidInput, NotFound, PayloadTooLarge
from gridos.observability.metrics import Metrics
from gridos.telemetry.catalogue import RESERVED_FIELDS, Measurement, build_catalogue
from gridos.telemetry.queries import QUALITY_NAMES, SampleQueries
from gridos.telemetry.rollups import RollupJob
from gridos.telemetry.samples import BatchObserver, Quality, Sample, TransactionObserver
from gridos.telemetry.schemas import IngestResult, build_sample_model, parse_samples
from gridos.telemetry.store import SampleStore, to_us


@dataclass(slots=True)
class IngestOutcome:
    result: IngestResult
    rows: list[Sample]


class TelemetryService:
    def __init__(
        self, settings: Settings, engine: Engine, registry: DeviceRegistry, metrics: Metrics
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.registry = registry
        self.metrics = metrics
        self.store = SampleStore(engine)
        # Writes the 1-minute rollups of closed minutes (started as a job by gridos.app).
        self.rollups = RollupJob(settings, engine, self.store.sqlite_write_lock)
        self.catalogue: dict[str, Measurement] = build_catalogue(settings.extra_measurements)
        # The read side: history, latest values, grid status and state changes (gridos.telemetry.queries).
        self.queries = SampleQueries(settings, engine, self.store, registry, self.catalogue, self.rollups)
        # The service stays the one entry point for reads; the SQL behind them is SampleQueries'.
        self.last_received = self.queries.last_received
        self.unit = self.queries.unit
        self.series = self.queries.series
        self.latest = self.queries.latest
        self.status = self.queries.status
        self.state_changes = self.queries.state_changes
        self.sample_model: type[BaseModel] = build_sample_model(self.catalogue)
        self._measurement_names = tuple(self.catalogue)
        # Observers (the alarm evaluator) get every committed batch; they must not raise.
        self.observers: list[BatchObserver] = []
        self.transaction_observers: list[TransactionObserver] = []  # PostgreSQL only

    # -- ingest ---------------------------------------------------------------------------------
    def parse(self, body: bytes, content_type: str) -> list[Any]:
        if len(body) > self.settings.max_body_bytes:
            self.metrics.ingest_rejected.labels(reason="too_large").inc()
            raise PayloadTooLarge(f"body of {len(body)} bytes exceeds {self.settings.max_body_bytes}")
        try:
            return parse_samples(self.sample_model, body, content_type)
        except InvalidInput:
            self.metrics.ingest_rejected.labels(reason="invalid").inc()
            raise

    def to_rows(self, items: list[Any], received: datetime | None = None) -> list[Sample]:
        """Validated items -> rows, enforcing the rules that need the clock and the catalogue."""
        now = received or datetime.now(UTC)
        now_us = to_us(now)
        max_future = now + timedelta(seconds=self.settings.max_future_seconds)
        oldest = now - timedelta(days=self.settings.retention_days)
        rows: list[Sample] = []
        errors: list[dict[str, Any]] = []
        max_future_us, oldest_us = to_us(max_future), to_us(oldest)
        reserved = RESERVED_FIELDS
        qualities = {q.name: q.value for q in Quality}
        ts_cache: dict[datetime, int] = {}
        rated = self._rated_bounds(items)
        # Hot loop (thousands of items per batch): plain dict access, timestamps converted once each.
        for index, item in enumerate(items):
            # A dict from the REST/MQTT validators (only the fields sent), a model from the connectors.
            fields = item if type(item) is dict else item.__dict__
            ts = fields.get("timestamp")
            if ts is None:
                ts_us = now_us
            else:
                ts_us = ts_cache.get(ts)  # type: ignore[assignment]
                if ts_us is None:
                    ts_us = ts_cache[ts] = to_us(ts)
            if ts_us > max_future_us:
                errors.append(
                    {
                        "item": index,
                        "field": "timestamp",
                        "message": "more than the allowed "
                        f"{self.settings.max_future_seconds:.0f} s in the future",
                    }
                )
                continue
            if ts_us < oldest_us:
                errors.append(
                    {
                        "item": index,
                        "field": "timestamp",
                        "message": f"older than the retention window of {self.settings.retention_days} days",
                    }
                )
                continue
            quality = qualities[fields.get("quality", "good")]
            device_id = fields["device_id"]
            bounds = rated.get(device_id)
            if bounds is not None:
                implausible = self._implausible(index, fields, bounds)
                if implausible:
                    errors.extend(implausible)
                    continue
            before = len(rows)
            for name, value in fields.items():
                if value is not None and name not in reserved:
                    rows.append((device_id, name, ts_us, float(value), quality, now_us))
            if len(rows) == before:
                errors.append({"item": index, "field": None, "message": "carries no measurement"})
        if errors:
            self.metrics.ingest_rejected.labels(reason="invalid").inc()
            first = errors[0]
            raise InvalidInput(
                f"{len(errors)} invalid item(s); first: item {first['item']}, field {first['field']}: "
                f"{first['message']}",
                errors=errors[:50],
            )
        if len(rows) > self.settings.max_batch_samples:
            self.metrics.ingest_rejected.labels(reason="too_large").inc()
            raise PayloadTooLarge(
                f"batch holds {len(rows)} samples; the limit is {self.settings.max_batch_samples}",
                limit=self.settings.max_batch_samples,
            )
        self._check_devices(items)
        return rows

    def _rated_bounds(self, items: list[Any]) -> dict[str, dict[str, tuple[float, str]]]:
        """Device id -> {measurement: (largest plausible |value|, why)} from each device's ratings."""
        rated_measurements = [m for m in self.catalogue.values() if m.rating]
        if not rated_measurements:
            return {}
        out: dict[str, dict[str, tuple[float, str]]] = {}
        for device_id, ratings in self.registry.ratings(_device_ids(items)).items():
            bounds = {}
            for m in rated_measurements:
                rating = ratings.get(m.rating or "")
                if rating:
                    why = f"{m.rating_factor:g} x its {m.rating} of {rating:g}"
                    bounds[m.name] = (m.rating_factor * rating, why)
            if bounds:
                out[device_id] = bounds
        return out

    def _implausible(
        self, index: int, fields: dict[str, Any], bounds: dict[str, tuple[float, str]]
    ) -> list[dict[str, Any]]:
        errors = []
        for name, (bound, why) in bounds.items():
            value = fields.get(name)
            if value is not None and abs(value) > bound:
                m = self.catalogue[name]
                errors.append(
                    {
                        "item": index,
                        "field": name,
                        "message": f"{value:g} {m.unit} is not plausible for device "
                        f"{fields['device_id']!r}: more than {round(bound, m.decimals):g} {m.unit} "
                        f"({why})",
                    }
                )
        return errors

    def _check_devices(self, items: list[Any]) -> None:
        ids = _device_ids(items)
        unknown = self.registry.unknown(ids)
        if not unknown:
            return
        if self.settings.unknown_device is UnknownDevicePolicy.auto_register:
            self.registry.auto_register(unknown)
            return
        self.metrics.ingest_rejected.labels(reason="unknown_device").inc()
        errors = [
            {"item": i, "field": "device_id", "message": f"unknown device {_device_id(item)!r}"}
            for i, item in enumerate(items)
            if _device_id(item) in unknown
        ]
        raise InvalidInput(
            f"unknown device(s): {', '.join(sorted(unknown)[:10])} (register them under /api/v1/devices "
            "or set GRIDOS_UNKNOWN_DEVICE=auto_register)",
            errors=errors[:50],
        )

    def commit(self, rows: list[Sample], source: str) -> IngestResult:
        started = time.perf_counter()
        after_commit: list[Callable[[], object]] = []

        def within(conn: Any) -> None:
            for observe in self.transaction_observers:
                done = observe(conn, rows)
                if done is not None:
                    after_commit.append(done)

        stored = self.store.write(rows, within if self.transaction_observers else None)
        for done in after_commit:
            done()
        self.metrics.ingest_duration.observe(time.perf_counter() - started)
        self.metrics.ingest_batch_size.observe(len(rows))
        self.metrics.samples_ingested.labels(source=source).inc(stored)
        self.metrics.samples_duplicate.labels(source=source).inc(len(rows) - stored)
        for observer in self.observers:
            observer(rows)
        return IngestResult(accepted=len(rows), stored=stored, duplicates=len(rows) - stored)

    def ingest(self, body: bytes, content_type: str, source: str = "http") -> IngestResult:
        return self.commit(self.to_rows(self.parse(body, content_type)), source)

    @property
    def cold(self) -> Any:
        """The cold tier (gridos.archive.ColdTier) when GRIDOS_ARCHIVE_LOCATION is set, else None."""
        return self.queries.cold

    @cold.setter
    def cold(self, tier: Any) -> None:
        self.queries.cold = tier


def _device_id(item: Any) -> str:
    return item["device_id"] if type(item) is dict else item.device_id


def _device_ids(items: list[Any]) -> set[str]:
    return {_device_id(item) for item in items}


__all__ = ["QUALITY_NAMES", "IngestOutcome", "NotFound", "TelemetryService"]
