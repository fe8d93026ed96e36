"""Telemetry logic: validate and commit samples, answer history, latest and grid-status queries."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine, select, text

from gridos.config import Settings, UnknownDevicePolicy
from gridos.db.tables import devices, latest_samples
from gridos.devices.schemas import DeviceLatest, LatestValue
from gridos.devices.service import DeviceRegistry
from gridos.errors import InvalidInput, NotFound, PayloadTooLarge
from gridos.observability.metrics import Metrics
from gridos.telemetry.catalogue import RESERVED_FIELDS, Measurement, build_catalogue
from gridos.telemetry.samples import BatchObserver, Quality, Sample
from gridos.telemetry.schemas import IngestResult, build_sample_model, parse_samples
from gridos.telemetry.store import MINUTE_US, SampleStore, from_us, to_us

QUALITY_NAMES = {q.value: q.name for q in Quality}
# Above this range, bucketed queries are answered from the 1-minute rollups.
ROLLUP_RANGE_US = 2 * 3600 * 1_000_000


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
        # Reads need no transaction: without BEGIN and ROLLBACK a query is one round trip, not three.
        self.reader = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.catalogue: dict[str, Measurement] = build_catalogue(settings.extra_measurements)
        self.sample_model: type[BaseModel] = build_sample_model(self.catalogue)
        self._measurement_names = tuple(self.catalogue)
        # Observers (the alarm evaluator) get every committed batch; they must not raise.
        self.observers: list[BatchObserver] = []
        # The cold tier (gridos.archive.ColdTier) when GRIDOS_ARCHIVE_LOCATION is set: archived days are
        # answered from Parquet, merged with what the hot tier still holds.
        self.cold: Any = None

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
            fields = item.__dict__
            ts = fields["timestamp"]
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
            quality = qualities[fields["quality"]]
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
        for device_id, ratings in self.registry.ratings({item.device_id for item in items}).items():
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
        ids = {item.device_id for item in items}
        unknown = self.registry.unknown(ids)
        if not unknown:
            return
        if self.settings.unknown_device is UnknownDevicePolicy.auto_register:
            self.registry.auto_register(unknown)
            return
        self.metrics.ingest_rejected.labels(reason="unknown_device").inc()
        errors = [
            {"item": i, "field": "device_id", "message": f"unknown device {item.device_id!r}"}
            for i, item in enumerate(items)
            if item.device_id in unknown
        ]
        raise InvalidInput(
            f"unknown device(s): {', '.join(sorted(unknown)[:10])} (register them under /api/v1/devices "
            "or set GRIDOS_UNKNOWN_DEVICE=auto_register)",
            errors=errors[:50],
        )

    def commit(self, rows: list[Sample], source: str) -> IngestResult:
        started = time.perf_counter()
        stored = self.store.write(rows)
        self.metrics.ingest_duration.observe(time.perf_counter() - started)
        self.metrics.ingest_batch_size.observe(len(rows))
        self.metrics.samples_ingested.labels(source=source).inc(stored)
        self.metrics.samples_duplicate.labels(source=source).inc(len(rows) - stored)
        for observer in self.observers:
            observer(rows)
        return IngestResult(accepted=len(rows), stored=stored, duplicates=len(rows) - stored)

    def ingest(self, body: bytes, content_type: str, source: str = "http") -> IngestResult:
        return self.commit(self.to_rows(self.parse(body, content_type)), source)

    # -- queries --------------------------------------------------------------------------------
    def last_received(self) -> dict[str, int]:
        """Device id -> when its newest sample was received (µs), for every device that sent any."""
        return self.store.last_received()

    def unit(self, measurement: str) -> str:
        m = self.catalogue.get(measurement)
        if m is None:
            raise InvalidInput(
                f"unknown measurement {measurement!r}; known: {', '.join(self.catalogue)}",
                errors=[{"field": "measurement", "message": "unknown measurement"}],
            )
        return m.unit

    def series(
        self,
        device_id: str,
        measurement: str,
        start: datetime,
        end: datetime,
        step_seconds: int | None,
        limit: int,
    ) -> dict[str, Any]:
        """The series as a plain document (what GET /api/v1/scada/data answers, shaped like SeriesOut):
        thousands of points are built as tuples of plain values and serialised once, not as models. Days
        moved to the cold tier (gridos.archive) are answered from there, merged with what is still hot."""
        unit = self.unit(measurement)
        if end <= start:
            raise InvalidInput(
                "'to' must be after 'from'", errors=[{"field": "to", "message": "before from"}]
            )
        if self.registry.unknown({device_id}):  # the registry's cache: no query for a known device
            raise NotFound(f"device {device_id!r} does not exist")
        s_us, e_us = to_us(start), to_us(end)
        if step_seconds and step_seconds > 60 and step_seconds % 60 and e_us - s_us > ROLLUP_RANGE_US:
            # A long range never scans raw samples: the step is a resolution hint, rounded to whole
            # minutes so the rollups can answer; the response says which step was used.
            step_seconds = round(step_seconds / 60) * 60
        # A series that never had a sample has no id: its raw answers are empty (NULL matches nothing).
        sid = self.store.series_id(device_id, measurement)
        params = {"d": device_id, "m": measurement, "s": s_us, "e": e_us, "sid": sid}
        out: dict[str, Any] = {
            "device_id": device_id,
            "measurement": measurement,
            "unit": unit,
            "from": start,
            "to": end,
            "step_seconds": step_seconds,
            "source": "raw",
            "truncated": False,
            "points": None,
            "buckets": None,
        }
        step_us = step_seconds * 1_000_000 if step_seconds else None
        if step_us and (e_us - s_us) // step_us > limit:
            raise InvalidInput(
                f"{(e_us - s_us) // step_us} buckets exceed the limit of {limit}; use a larger step",
                errors=[{"field": "step", "message": "too many buckets"}],
            )
        if self.cold is not None and (
            cold := self.cold.series(device_id, measurement, s_us, e_us, step_us, limit)
        ):
            out["source"], rows = cold
            if step_us is None:
                out["truncated"] = len(rows) > limit
                out["points"] = _points(rows[:limit])
            else:
                out["buckets"] = _buckets(rows)
            return out
        with self.reader.connect() as conn:
            if step_us is None:
                rows = (
                    conn.execute(
                        text(
                            "SELECT ts, value, quality FROM series_samples WHERE series_id = :sid "
                            "AND ts >= :s AND ts < :e ORDER BY ts LIMIT :n"
                        ),
                        params | {"n": limit + 1},
                    ).all()
                    if sid is not None
                    else []
                )
                out["truncated"] = len(rows) > limit
                out["points"] = _points(rows[:limit])
                return out
            if step_us % MINUTE_US == 0:
                # Whole minutes: rollups answer, so a long range never reads raw samples.
                out["source"] = "rollup_1m"
                sql = (
                    "SELECT b.bucket, b.mn, b.mx, b.sm, b.cnt, r.last FROM ("
                    " SELECT bucket - bucket % :step AS bucket, min(min) AS mn, max(max) AS mx,"
                    " sum(sum) AS sm, CAST(sum(count) AS BIGINT) AS cnt, max(last_ts) AS lts FROM rollups_1m"
                    " WHERE device_id = :d AND measurement = :m AND bucket >= :s AND bucket < :e"
                    " GROUP BY bucket - bucket % :step) b"
                    " JOIN rollups_1m r ON r.device_id = :d AND r.measurement = :m"
                    " AND r.bucket = b.lts - b.lts % 60000000 ORDER BY b.bucket"
                )
                # A partial first minute still belongs to the range: align the start down.
                params["s"] = s_us - s_us % MINUTE_US
            else:
                sql = (
                    "SELECT b.bucket, b.mn, b.mx, b.sm, b.cnt, s.value FROM ("
                    " SELECT ts - ts % :step AS bucket, min(value) AS mn, max(value) AS mx,"
                    " sum(value) AS sm, count(*) AS cnt, max(ts) AS lts FROM series_samples"
                    " WHERE series_id = :sid AND ts >= :s AND ts < :e AND quality < 2"
                    " GROUP BY ts - ts % :step) b"
                    # The range again on the join: without it a custom plan may hash-join every sample
                    # of the series in every partition (150 ms instead of 5 for an hour at 1 Hz).
                    " JOIN series_samples s ON s.series_id = :sid AND s.ts = b.lts AND s.ts >= :s AND s.ts < :e"
                    " ORDER BY b.bucket"
                )
            rows = conn.execute(text(sql), params | {"step": step_us}).all()
        out["buckets"] = _buckets(rows)
        return out

    def latest(self, device_id: str) -> DeviceLatest:
        self.registry.get(device_id)
        with self.engine.connect() as conn:
            rows = conn.execute(select(latest_samples).where(latest_samples.c.device_id == device_id)).all()
        result: dict[str, LatestValue] = {}
        for r in rows:
            m = self.catalogue.get(r.measurement)
            value: float | bool = bool(r.value) if m and m.kind == "bool" else r.value
            result[r.measurement] = LatestValue(
                value=value,
                unit=m.unit if m else "",
                ts=from_us(r.ts),
                received_at=from_us(r.received_at),
                quality=QUALITY_NAMES[r.quality],  # type: ignore[arg-type]
            )
        return DeviceLatest(device_id=device_id, measurements=result)

    def status(self, now: datetime | None = None) -> dict[str, Any]:
        """Grid summary per site: device counts, reporting vs stale, envelopes of key values."""
        now = now or datetime.now(UTC)
        stale_before = to_us(now) - int(self.settings.stale_after_seconds * 1_000_000)
        with self.reader.connect() as conn:
            devs = conn.execute(
                select(devices.c.id, devices.c.site, devices.c.type, devices.c.nominal_voltage)
            ).all()
            # One read of the latest values serves both the envelopes and each device's last contact
            # (a second GROUP BY query per request was a third of this endpoint's database time).
            latest = conn.execute(
                select(
                    latest_samples.c.device_id,
                    latest_samples.c.measurement,
                    latest_samples.c.value,
                    latest_samples.c.received_at,
                )
            ).all()
        wanted = {"voltage", "frequency", "active_power", "breaker_closed"}
        last_seen: dict[str, int] = {}
        by_device: dict[str, dict[str, float]] = defaultdict(dict)
        for device_id, measurement, value, received in latest:
            if received > last_seen.get(device_id, -1):
                last_seen[device_id] = received
            if measurement in wanted:
                by_device[device_id][measurement] = value
        sites: dict[str, dict[str, Any]] = {}
        for d in devs:
            site = sites.setdefault(
                d.site,
                {
                    "site": d.site,
                    "devices": 0,
                    "reporting": 0,
                    "stale": 0,
                    "never_reported": 0,
                    "by_type": defaultdict(int),
                    "_v": [],
                    "_f": [],
                    "active_power_kw": 0.0,
                    "breakers_open": 0,
                },
            )
            site["devices"] += 1
            site["by_type"][d.type] += 1
            seen = last_seen.get(d.id)
            if seen is None:
                site["never_reported"] += 1
            elif seen >= stale_before:
                site["reporting"] += 1
            else:
                site["stale"] += 1
            values = by_device.get(d.id, {})
            if "voltage" in values and d.nominal_voltage:
                site["_v"].append(values["voltage"] / d.nominal_voltage)
            if "frequency" in values:
                site["_f"].append(values["frequency"])
            site["active_power_kw"] += values.get("active_power", 0.0) if d.type in ("feeder",) else 0.0
            if values.get("breaker_closed") == 0.0:
                site["breakers_open"] += 1
        out_sites = []
        for site in sorted(sites.values(), key=lambda s: s["site"]):
            v, f = site.pop("_v"), site.pop("_f")
            site["by_type"] = dict(site["by_type"])
            site["voltage_pu"] = _envelope(v)
            site["frequency_hz"] = _envelope(f)
            site["active_power_kw"] = round(site["active_power_kw"], 3)
            out_sites.append(site)
        totals = {
            k: sum(s[k] for s in out_sites) for k in ("devices", "reporting", "stale", "never_reported")
        }
        return {
            "generated_at": now.isoformat(),
            "stale_after_seconds": self.settings.stale_after_seconds,
            "sites": out_sites,
            "totals": totals | {"sites": len(out_sites)},
        }


def _envelope(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "avg": round(sum(values) / len(values), 4),
    }


__all__ = ["IngestOutcome", "NotFound", "TelemetryService"]


def _points(rows: Any) -> list[dict[str, Any]]:
    names = QUALITY_NAMES
    return [{"ts": from_us(ts), "value": value, "quality": names[quality]} for ts, value, quality in rows]


def _buckets(rows: Any) -> list[dict[str, Any]]:
    return [
        {
            "ts": from_us(r[0]),
            "min": r[1],
            "max": r[2],
            "avg": r[3] / int(r[4]),
            "last": r[5],
            "count": int(r[4]),
        }
        for r in rows
    ]
