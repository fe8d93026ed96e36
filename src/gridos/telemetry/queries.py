"""The read side of telemetry: every query telemetry answers over the stored samples (`series_samples`, the
`samples` view, `latest_samples`, `rollups_1m`) and the `devices` table lives here. Writes, retention and
the cached series ids are `gridos.telemetry.store`; TelemetryService delegates its read methods to
SampleQueries, and other packages (alarms' events) ask TelemetryService instead of reading these tables."""

# SQL here is assembled from constants of this code base and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text

from gridos.clock import MINUTE_US
from gridos.clock import from_us as to_datetime  # state_changes has a from_us parameter
from gridos.config import Settings
from gridos.db.tables import devices, latest_samples
from gridos.devices.schemas import DeviceLatest, LatestValue
from gridos.devices.service import DeviceRegistry
from gridos.errors import InvalidInput, NotFound
from gridos.telemetry.catalogue import Measurement
from gridos.telemetry.rollups import RollupJob
from gridos.telemetry.samples import INVALID, Quality
from gridos.telemetry.segments import points
from gridos.telemetry.store import SampleStore, from_us, to_us

QUALITY_NAMES = {q.value: q.name for q in Quality}
# Above this range, bucketed queries are answered from the 1-minute rollups.
ROLLUP_RANGE_US = 2 * 3600 * 1_000_000

# Changes of boolean measurements: a sample whose value differs from the previous sample of the same device
# and measurement (invalid samples excluded).
_STATE_CHANGES = """
SELECT device_id, measurement, ts, value, previous FROM (
    SELECT device_id, measurement, ts, value,
           LAG(value) OVER (PARTITION BY device_id, measurement ORDER BY ts) AS previous
    FROM (SELECT n.device_id, n.measurement, p.ts, p.value, p.quality
          FROM {points} p JOIN series n ON n.id = p.series_id) AS samples
    WHERE measurement IN ({names}) AND quality < :invalid AND ts <= :to_us
      AND ts >= :lookback_us {device_filter}
) AS changes
WHERE previous IS NOT NULL AND value <> previous AND ts >= :from_us
ORDER BY ts DESC, device_id
LIMIT :limit
"""


@dataclass
class SampleQueries:
    """History, latest values, grid status and state changes; one instance per TelemetryService."""

    settings: Settings
    engine: Engine
    store: SampleStore
    registry: DeviceRegistry
    catalogue: dict[str, Measurement]
    rollups: RollupJob
    # The cold tier (gridos.archive.ColdTier) when GRIDOS_ARCHIVE_LOCATION is set: archived days are
    # answered from Parquet, merged with what the hot tier still holds.
    cold: Any = None

    def __post_init__(self) -> None:
        # Reads need no transaction: without BEGIN and ROLLBACK a query is one round trip, not three.
        self.reader = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # One series' stored samples in [:s, :e): raw rows and (PostgreSQL) segments.
        self._points = points(self.engine.dialect.name == "postgresql", ":s", ":e", "series_id = :sid")

    def last_received(self) -> dict[str, int]:
        """Device id -> the newest received_at of its latest samples (µs)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(latest_samples.c.device_id, func.max(latest_samples.c.received_at)).group_by(
                    latest_samples.c.device_id
                )
            ).all()
        return {device_id: received for device_id, received in rows}

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
                            f"SELECT ts, value, quality FROM {self._points} p WHERE series_id = :sid "
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
                # Whole minutes: rollups answer (the minutes not rolled up yet from raw samples), so a
                # long range never reads raw samples beyond its last minutes.
                out["source"] = "rollup_1m"
                sql = self.rollups.buckets_sql
                # A partial first minute still belongs to the range: align the start down.
                params["s"] = s_us - s_us % MINUTE_US
                params["hot"] = self.rollups.hot_from_us(datetime.now(UTC))
            else:
                sql = (
                    "SELECT b.bucket, b.mn, b.mx, b.sm, b.cnt, s.value FROM ("
                    " SELECT ts - ts % :step AS bucket, min(value) AS mn, max(value) AS mx,"
                    f" sum(value) AS sm, count(*) AS cnt, max(ts) AS lts FROM {self._points} p"
                    " WHERE series_id = :sid AND ts >= :s AND ts < :e AND quality < 2"
                    " GROUP BY ts - ts % :step) b"
                    # The range again on the join: without it a custom plan may hash-join every sample
                    # of the series in every partition (150 ms instead of 5 for an hour at 1 Hz).
                    f" JOIN {self._points} s ON s.series_id = :sid AND s.ts = b.lts AND s.ts >= :s AND s.ts < :e"
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

    def state_changes(
        self, device_id: str | None, from_us: int, to_us: int, lookback_us: int, limit: int
    ) -> list[dict[str, Any]]:
        """Changes of every boolean measurement in [from_us, to_us], newest first, as dicts of device_id,
        measurement, ts (datetime), value and previous (bools). Samples from `lookback_us` on are read so
        that the first change of the window has the state it changed from."""
        names = [m.name for m in self.catalogue.values() if m.kind == "bool"]
        if not names:
            return []
        params: dict[str, Any] = {
            "invalid": INVALID,
            "from_us": from_us,
            "to_us": to_us,
            "lookback_us": lookback_us,
            "limit": limit,
        }
        params |= {f"m{i}": name for i, name in enumerate(names)}
        sql = _STATE_CHANGES.format(
            points=points(self.engine.dialect.name == "postgresql", ":lookback_us", ":to_us + 1"),
            names=", ".join(f":m{i}" for i in range(len(names))),
            device_filter="AND device_id = :device_id" if device_id else "",
        )
        if device_id:
            params["device_id"] = device_id
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        return [
            {
                "device_id": r.device_id,
                "measurement": r.measurement,
                "ts": to_datetime(r.ts),
                "value": bool(r.value),
                "previous": bool(r.previous),
            }
            for r in rows
        ]


def _envelope(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "avg": round(sum(values) / len(values), 4),
    }


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
