"""Rows <-> records: how alarm points, transitions and rules are stored, and the SQL that reads them.

Every function here is stateless; the caller owns the connection and the transaction.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError
from sqlalchemy import ARRAY, Connection, and_, any_, bindparam, func, insert, or_, select, update

from gridos.alarms.model import US, AlarmRecord, Condition, Priority, ShelveKind, State
from gridos.alarms.rules import MAX_DELAY_S, MAX_LIMIT, Rule, RuleFields
from gridos.alarms.tables import alarm_events, alarm_rule_audit, alarms
from gridos.clock import iso

log = logging.getLogger("gridos.alarms")

_T = TypeVar("_T")
Key = tuple[str, str, Condition]
Series = tuple[str, str]


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


# -- alarm points and transitions -----------------------------------------------------------------
def key_of(rec: AlarmRecord) -> Key:
    return (rec.device_id, rec.measurement, rec.condition)


def all_points(conn: Connection) -> list[AlarmRecord]:
    return [record_from_row(row) for row in conn.execute(select(alarms)).all()]


def points_of(conn: Connection, series: list[Series]) -> list[AlarmRecord]:
    """The stored alarm points of these series."""
    out: list[AlarmRecord] = []
    for chunk in chunks(series, 200):
        cond = or_(*(and_(alarms.c.device_id == d, alarms.c.measurement == m) for d, m in chunk))
        out += [record_from_row(r) for r in conn.execute(select(alarms).where(cond)).all()]
    return out


_VERSIONS = select(alarms.c.device_id, alarms.c.measurement, alarms.c.condition, alarms.c.version)
# PostgreSQL: the ids as one array parameter. This read runs for every ingested batch, and an IN list of its
# ~200 devices made SQLAlchemy render 200 bind casts and psycopg re-parse a query text too long to cache:
# ~1.2 ms of Python per 5,000-sample batch.
_VERSIONS_ANY = _VERSIONS.where(
    alarms.c.device_id == any_(bindparam("ids", type_=ARRAY(alarms.c.device_id.type)))
)


def versions_of(conn: Connection, device_ids: list[str]) -> Iterable[tuple[str, str, str, int]]:
    """(device_id, measurement, condition, version) of every stored alarm point of these devices."""
    if conn.dialect.name == "postgresql":
        yield from conn.execute(_VERSIONS_ANY, {"ids": device_ids})
        return
    for chunk in chunks(device_ids, 500):
        yield from conn.execute(_VERSIONS.where(alarms.c.device_id.in_(chunk)))


def save_points(conn: Connection, changed: list[AlarmRecord], at: int) -> None:
    """Insert new alarm points (their ids are set) and update the others; each one's version goes up."""
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


def insert_events(conn: Connection, event_rows: list[dict[str, Any]]) -> list[int]:
    """The transitions, in order; returns their ids."""
    if not event_rows:
        return []
    ids = conn.execute(
        insert(alarm_events).returning(alarm_events.c.id, sort_by_parameter_order=True), event_rows
    ).scalars()
    return list(ids)


def rules_mark(conn: Connection) -> int | None:
    """The newest rule-audit id: it changes whenever any replica changes a rule."""
    mark: int | None = conn.execute(select(func.max(alarm_rule_audit.c.id))).scalar()
    return mark


def chunks(items: list[_T], size: int) -> Iterable[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# -- rules ----------------------------------------------------------------------------------------
def rule_values(spec: RuleFields) -> dict[str, Any]:
    return {
        "limits": {k: v.model_dump(mode="json") for k, v in spec.limits.items()},
        "on_delay_s": spec.on_delay_s,
        "off_delay_s": spec.off_delay_s,
        "realarm_s": spec.realarm_s,
        "latching": spec.latching,
        "enabled": spec.enabled,
        "description": spec.description,
    }


def rule_doc(spec: RuleFields) -> dict[str, Any]:
    return orjson.loads(orjson.dumps(rule_values(spec)))


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
