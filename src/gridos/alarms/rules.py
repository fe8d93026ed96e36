"""Alarm rules: their API shape, the defaults derived from nominal ratings, and the YAML file format.

Where a (device, measurement) has no configured rule, the limits come from the device's ratings
(`default_specs`); the source of each figure is in `DEFAULT_SOURCES` and docs/alarms.md.
"""

from __future__ import annotations

import dataclasses
import itertools
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from ruamel.yaml import YAML

from gridos.alarms.model import US, Condition, LimitSpec, Priority
from gridos.devices.service import DeviceInfo
from gridos.telemetry.catalogue import CORE_MEASUREMENTS
from gridos.telemetry.schemas import DeviceId

LimitName = Literal["hh", "h", "l", "ll"]
# Sane bounds, not just finite ones: a value is later scaled to microseconds and compared with samples, and
# one absurd rule (off_delay_s: 1e303 -> round(inf)) must be refused where it is entered, API or YAML.
MAX_LIMIT = 1e12  # above any voltage, current or power a grid carries, in any unit of the catalogue
MAX_DELAY_S = 7 * 86400.0  # a week: longer delays mean "never", which is enabled: false
Finite = Annotated[float, Field(ge=-MAX_LIMIT, le=MAX_LIMIT, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, le=MAX_LIMIT, allow_inf_nan=False)]
Delay = Annotated[float, Field(ge=0, le=MAX_DELAY_S, allow_inf_nan=False)]


class LimitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Finite
    priority: Priority
    deadband: NonNegative = Field(default=0.0, description="hysteresis: clears only this far inside")


class RuleFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: dict[LimitName, LimitIn] = Field(description="any of hh, h, l, ll")
    on_delay_s: Delay = Field(default=0.0, description="limit must be exceeded this long to alarm")
    off_delay_s: Delay = Field(default=0.0, description="must be back this long to clear")
    realarm_s: Annotated[float, Field(gt=0, le=MAX_DELAY_S, allow_inf_nan=False)] | None = Field(
        default=None, description="re-annunciate an acknowledged alarm still active after this long"
    )
    latching: bool = Field(default=False, description="stay in alarm after return until acknowledged")
    enabled: bool = Field(default=True, description="false: no alarms at all for this series")
    description: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> RuleFields:
        if self.enabled and not self.limits:
            raise ValueError("an enabled rule needs at least one limit (hh, h, l or ll)")
        order = [name for name in ("hh", "h", "l", "ll") if name in self.limits]
        values = [self.limits[name].value for name in order]
        if any(a <= b for a, b in itertools.pairwise(values)):
            raise ValueError(
                f"limits must be strictly ordered hh > h > l > ll; got {dict(zip(order, values, strict=True))}"
            )
        return self


class RuleCreate(RuleFields):
    device_id: DeviceId
    measurement: str = Field(min_length=1, max_length=64)


class Rule(RuleCreate):
    model_config = ConfigDict(extra="ignore")

    id: int
    source: str
    created_at: datetime
    updated_at: datetime
    updated_by: str


class ChangeComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=1000)


def rule_specs(rule: RuleFields) -> tuple[LimitSpec, ...]:
    if not rule.enabled:
        return ()
    return tuple(
        LimitSpec(
            condition=Condition(name),
            value=limit.value,
            priority=limit.priority,
            deadband=limit.deadband,
            on_delay_us=round(rule.on_delay_s * US),
            off_delay_us=round(rule.off_delay_s * US),
            realarm_us=round(rule.realarm_s * US) if rule.realarm_s else None,
            latching=rule.latching,
            source="rule",
        )
        for name, limit in rule.limits.items()
    )


# -- defaults from nominal ratings ----------------------------------------------------------------
DEFAULT_SOURCES = {
    "voltage": "ANSI C84.1 Range A (+/-5% of nominal) for h/l; EN 50160 (+/-10%) for hh/ll",
    "frequency": "EN 50160: 50 Hz +/-1% for 99.5% of a year (hh/ll); +/-0.5% as the early warning (h/l)",
    "power_factor": "0.90: the usual utility power-factor penalty threshold (l)",
    "current": "100% (h) and 120% (hh) of the device's rated current",
    "temperature": "IEC 60076-7 transformer top-oil: 105 degC normal cyclic (h), 115 degC emergency (hh)",
}


MEASUREMENT_DECIMALS = {m.name: m.decimals for m in CORE_MEASUREMENTS}


def _spec(cond: Condition, value: float, priority: Priority, deadband: float, source: str) -> LimitSpec:
    return LimitSpec(cond, value, priority, deadband=deadband, source=f"default: {source}")


def _band(
    n: float, measurement: str, deadband: float, factors: tuple[float, float, float, float], outer: Priority
) -> tuple[LimitSpec, ...]:
    """hh, h, l and ll limits at `factors` x the rating `n`: hh and ll at priority `outer`, h and l medium;
    the deadband is `deadband` x `n`."""
    f_hh, f_h, f_l, f_ll = factors
    db, src = deadband * n, DEFAULT_SOURCES[measurement]
    return (
        _spec(Condition.hh, f_hh * n, outer, db, src),
        _spec(Condition.h, f_h * n, Priority.medium, db, src),
        _spec(Condition.l, f_l * n, Priority.medium, db, src),
        _spec(Condition.ll, f_ll * n, outer, db, src),
    )


def default_specs(device: DeviceInfo, measurement: str) -> tuple[LimitSpec, ...]:
    """Limits derived from the device's ratings; empty when the rating needed is unknown. Rounded to the
    measurement's precision (1.10 x 11,000 V is 12100 V, not 12100.000000000002)."""
    decimals = MEASUREMENT_DECIMALS.get(measurement, 3)
    return tuple(
        dataclasses.replace(s, value=round(s.value, decimals), deadband=round(s.deadband, decimals))
        for s in _rated_specs(device, measurement)
    )


def _rated_specs(device: DeviceInfo, measurement: str) -> tuple[LimitSpec, ...]:
    """Breaker state changes are events, not alarms: breaker_closed has no default."""
    c = Condition
    if measurement == "voltage" and device.nominal_voltage:
        return _band(device.nominal_voltage, "voltage", 0.01, (1.10, 1.05, 0.95, 0.90), Priority.high)
    if measurement == "frequency" and device.nominal_frequency:
        return _band(
            device.nominal_frequency, "frequency", 0.001, (1.01, 1.005, 0.995, 0.99), Priority.critical
        )
    if measurement == "power_factor" and device.type in ("feeder", "meter", "generator"):
        return (_spec(c.l, 0.90, Priority.low, 0.01, DEFAULT_SOURCES["power_factor"]),)
    if measurement == "current" and device.rated_current:
        n, src = device.rated_current, DEFAULT_SOURCES["current"]
        db = 0.02 * n
        return (_spec(c.hh, 1.20 * n, Priority.high, db, src), _spec(c.h, 1.00 * n, Priority.medium, db, src))
    if measurement == "temperature" and device.type == "transformer":
        src = DEFAULT_SOURCES["temperature"]
        return (_spec(c.hh, 115.0, Priority.critical, 2.0, src), _spec(c.h, 105.0, Priority.high, 2.0, src))
    return ()


# -- YAML -----------------------------------------------------------------------------------------
class RulesFileError(ValueError):
    pass


def load_rules_file(path: Path, known_measurements: set[str]) -> list[RuleCreate]:
    """Parse and validate a rules file; raises RulesFileError naming the file, rule and field."""
    try:
        data: Any = YAML(typ="safe").load(path.read_text())
    except FileNotFoundError:
        raise RulesFileError(f"{path}: alarm rules file not found") from None
    except Exception as exc:  # ruamel's parser errors have no common public base
        raise RulesFileError(f"{path}: not valid YAML: {exc}") from None
    items = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RulesFileError(f"{path}: expected a mapping with a 'rules' list")
    rules: list[RuleCreate] = []
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        try:
            rule = RuleCreate.model_validate(item)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "rule"
            raise RulesFileError(f"{path}: rules[{index}].{where}: {err['msg']}") from None
        if rule.measurement not in known_measurements:
            raise RulesFileError(
                f"{path}: rules[{index}].measurement: unknown measurement {rule.measurement!r}"
            )
        key = (rule.device_id, rule.measurement)
        if key in seen:
            raise RulesFileError(f"{path}: rules[{index}]: a second rule for {key[0]} {key[1]}")
        seen.add(key)
        rules.append(rule)
    return rules
