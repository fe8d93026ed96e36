"""Alarm rules as data: list, read, create, change and delete them, each change audited in the same
transaction (`alarm_rule_audit`); the YAML rules file is loaded through the same path.

(`gridos.alarms.rules` holds the rules' API shapes, the defaults from ratings and the file format.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from gridos.alarms.cache import AlarmCache
from gridos.alarms.repository import rule_doc, rule_from_row, rule_values
from gridos.alarms.rules import Rule, RuleCreate, RuleFields
from gridos.alarms.tables import alarm_rule_audit, alarm_rules
from gridos.clock import iso, now_us
from gridos.db import locks
from gridos.errors import Conflict, InvalidInput, NotFound


class RuleAdmin:
    def __init__(self, engine: Engine, cache: AlarmCache) -> None:
        self.engine = engine
        self.cache = cache
        self.measurements = cache.measurements
        self.postgres = engine.dialect.name == "postgresql"

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
        self.cache.reload_rules()
        return self.get_rule(rule_id)

    def _insert_rule(self, conn: Connection, spec: RuleCreate, actor: str, source: str) -> int:
        at = now_us()
        values = rule_values(spec) | {
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
            conn, rule_id, spec.device_id, spec.measurement, "create", actor, None, rule_doc(spec), None
        )
        return rule_id

    def update_rule(self, rule_id: int, spec: RuleFields, actor: str, comment: str | None = None) -> Rule:
        current = self.get_rule(rule_id)
        with self.engine.begin() as conn:
            self._lock_rule(conn, current.device_id, current.measurement)
            if not self._update_rule(conn, current, spec, actor, "api", comment):
                return current
        self.cache.reload_rules()
        return self.get_rule(rule_id)

    def _update_rule(
        self, conn: Connection, current: Rule, spec: RuleFields, actor: str, source: str, comment: str | None
    ) -> bool:
        before, after = rule_doc(current), rule_doc(spec)
        if before == after:
            return False
        conn.execute(
            update(alarm_rules)
            .where(alarm_rules.c.id == current.id)
            .values(rule_values(spec) | {"updated_us": now_us(), "updated_by": actor, "source": source})
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
                rule_doc(current),
                None,
                comment,
            )
        self.cache.reload_rules()

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
        self.cache.reload_rules()
        return counts

    def _lock_rule(self, conn: Connection, device_id: str, measurement: str) -> None:
        if self.postgres:
            locks.xact_lock(conn, locks.series_key(device_id, "rule:" + measurement))
        else:
            locks.sqlite_write_lock(conn)

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
