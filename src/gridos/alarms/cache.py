"""The in-memory view every replica keeps: alarm points, devices, rules, and the effective limits.

It is only a filter (which samples may skip the database); the database is the truth. Writers replace a
cached alarm point only by a newer version (`keep`), so a slow reader never puts an older one back.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, select

from gridos.alarms import repository
from gridos.alarms.config import AlarmSettings
from gridos.alarms.model import US, AlarmRecord, LimitSpec, Priority
from gridos.alarms.repository import Key, Series, rule_from_row
from gridos.alarms.rules import Rule, default_specs, rule_specs
from gridos.alarms.tables import alarm_rules
from gridos.devices.service import DeviceInfo
from gridos.errors import NotFound
from gridos.observability.metrics import Metrics

log = logging.getLogger("gridos.alarms")


class AlarmCache:
    """Thread-safe: readers take plain dict reads; writers hold `lock`."""

    def __init__(
        self,
        settings: AlarmSettings,
        engine: Engine,
        metrics: Metrics,
        measurements: set[str],
        device_infos: Callable[[str | None], list[DeviceInfo]],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.measurements = measurements
        self._device_infos = device_infos  # the device registry's answer, for all devices or one
        self.lock = threading.RLock()
        self.records: dict[Key, AlarmRecord] = {}
        self.devices: dict[str, DeviceInfo] = {}
        self.rules: dict[Series, Rule] = {}
        self.specs_by_series: dict[Series, tuple[LimitSpec, ...]] = {}
        # Per series, the band of values that certainly changes nothing while every alarm point of the
        # series is quiet (normal, nothing pending): the ingest fast path is one comparison per sample.
        self.guards: dict[Series, tuple[float, float]] = {}
        self.guard_generation = 0  # bumped before a guard is dropped: a guard computed meanwhile is not kept
        self.rules_mark: int | None = None
        self.errors = 0

    # -- loading ----------------------------------------------------------------------------------
    def load(self) -> None:
        """Rebuild the in-memory view from storage: devices, rules, and every alarm point's state."""
        self.reload_devices()
        self.reload_rules()
        with self.engine.connect() as conn:
            points = repository.all_points(conn)
        with self.lock:
            self.records = {repository.key_of(rec): rec for rec in points}
            self.guard_generation += 1
            self.guards = {}

    def reload_devices(self) -> None:
        infos = {info.id: info for info in self._device_infos(None)}
        with self.lock:
            if infos != self.devices:
                self.devices = infos
                self.specs_by_series = {}
                self.guard_generation += 1
                self.guards = {}

    def reload_rules(self) -> None:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarm_rules)).all()
            mark = repository.rules_mark(conn)
        rules = {(r.device_id, r.measurement): rule_from_row(r) for r in rows}
        with self.lock:
            self.rules = rules
            self.specs_by_series = {}
            self.guard_generation += 1
            self.guards = {}
            self.rules_mark = mark

    def keep(self, rec: AlarmRecord) -> bool:
        """Cache `rec` unless the cache already holds that version or a newer one."""
        key = repository.key_of(rec)
        with self.lock:
            cached = self.records.get(key)
            if cached is not None and cached.version >= rec.version:
                return False
            self.records[key] = rec
            self.drop_guard((rec.device_id, rec.measurement))
        return True

    def drop_guard(self, series: Series) -> None:
        with self.lock:
            self.guard_generation += 1
            self.guards.pop(series, None)

    def failed(self, series: Series, what: str) -> None:
        """Count and log a failure to evaluate one series (the others go on)."""
        self.errors += 1
        self.metrics.alarm_errors.inc()
        log.exception(
            "alarm evaluation failed for one series",
            extra={"device_id": series[0], "measurement": series[1], "error": what},
        )

    # -- devices and limits -----------------------------------------------------------------------
    def device(self, device_id: str) -> DeviceInfo | None:
        info = self.devices.get(device_id)
        if info is None:
            found = self._device_infos(device_id)
            if not found:
                return None
            info = found[0]
            with self.lock:
                self.devices[device_id] = info
                for series in [s for s in self.specs_by_series if s[0] == device_id]:
                    del self.specs_by_series[series]
                    self.guard_generation += 1
                    self.guards.pop(series, None)
        return info

    def site_of(self, device_id: str) -> str:
        info = self.device(device_id)
        if info is not None:
            return info.site
        return device_id.split("/", 1)[0] if "/" in device_id else "default"

    def specs(self, device_id: str, measurement: str) -> tuple[LimitSpec, ...]:
        """Effective limits: the configured rule, else the defaults from the device's ratings."""
        series = (device_id, measurement)
        specs = self.specs_by_series.get(series)
        if specs is not None:
            return specs
        rule = self.rules.get(series)
        try:
            if rule is not None:
                specs = rule_specs(rule)
            else:
                info = self.device(device_id)
                specs = default_specs(info, measurement) if info else ()
        except Exception:
            # A rule stored before its ranges were validated (off_delay_s: 1e303 -> round(inf)): this
            # series has no limits until the rule is fixed; every other series is evaluated as usual.
            self.failed(series, "its alarm rule cannot be evaluated; fix or delete it")
            specs = ()
        with self.lock:
            self.specs_by_series[series] = specs
        return specs

    def guard(self, series: Series) -> tuple[float, float]:
        generation = self.guard_generation
        lo, hi = -math.inf, math.inf
        for spec in self.specs(*series):
            rec = self.records.get((series[0], series[1], spec.condition))
            if rec is not None and (rec.condition_active or rec.pending_on_us is not None):
                lo, hi = math.inf, -math.inf  # never inside: every sample takes the careful path
                break
            if spec.high:
                hi = min(hi, spec.value)
            else:
                lo = max(lo, spec.value)
        if generation == self.guard_generation:
            self.guards[series] = (lo, hi)
        return lo, hi

    def effective(self, device_id: str) -> dict[str, Any]:
        """The limits in force for a device, each with where it comes from (rule or default + source)."""
        info = self.device(device_id)
        if info is None:
            raise NotFound(f"device {device_id!r} does not exist")
        out: dict[str, Any] = {}
        for measurement in sorted(self.measurements):
            specs = self.specs(device_id, measurement)
            rule = self.rules.get((device_id, measurement))
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
