"""Alarm tables (SQLAlchemy Core) on the core MetaData; the DDL is migration 0002_alarms.

Times are integer microseconds since the Unix epoch (UTC), like the time series.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, Index, Integer, String, Table, Text

from gridos.db.tables import metadata

alarm_rules = Table(
    "alarm_rules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(128), nullable=False),
    Column("measurement", String(64), nullable=False),
    Column("limits", JSON, nullable=False),
    Column("on_delay_s", Float, nullable=False),
    Column("off_delay_s", Float, nullable=False),
    Column("realarm_s", Float),
    Column("latching", Boolean, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text),
    Column("source", String(32), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("updated_by", String(200), nullable=False),
    Index("uq_alarm_rules_series", "device_id", "measurement", unique=True),
)

alarm_rule_audit = Table(
    "alarm_rule_audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_id", Integer),
    Column("device_id", String(128), nullable=False),
    Column("measurement", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("comment", Text),
    Column("before", JSON),
    Column("after", JSON),
)

alarms = Table(
    "alarms",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("device_id", String(128), nullable=False),
    Column("measurement", String(64), nullable=False),
    Column("condition", String(8), nullable=False),
    Column("site", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("core", String(32), nullable=False),
    Column("condition_active", Boolean, nullable=False),
    Column("latched", Boolean, nullable=False),
    Column("pending_on_us", BigInteger),
    Column("pending_off_us", BigInteger),
    Column("last_ts_us", BigInteger),
    Column("shelved", String(16)),
    Column("shelved_until_us", BigInteger),
    Column("suppressed", Boolean, nullable=False),
    Column("out_of_service", Boolean, nullable=False),
    Column("activations", JSON, nullable=False),
    Column("chattering", Boolean, nullable=False),
    Column("value", Float),
    Column("limit_value", Float),
    Column("activated_at_us", BigInteger),
    Column("acked_at_us", BigInteger),
    Column("changed_at_us", BigInteger),
    Column("actor", String(200)),
    Column("comment", Text),
    Column("message", Text),
    Column("version", Integer, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Index("uq_alarms_point", "device_id", "measurement", "condition", unique=True),
    Index("ix_alarms_state", "state"),
    Index("ix_alarms_updated", "updated_us"),
)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alarm_id", Integer, nullable=False),
    Column("device_id", String(128), nullable=False),
    Column("measurement", String(64), nullable=False),
    Column("condition", String(8), nullable=False),
    Column("site", String(64), nullable=False),
    Column("priority", String(16), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_state", String(32), nullable=False),
    Column("to_state", String(32), nullable=False),
    Column("at_us", BigInteger, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("comment", Text),
    Column("value", Float),
    Column("limit_value", Float),
    Column("sample_ts_us", BigInteger),
    Column("received_us", BigInteger),
    Column("snapshot", JSON),
    Index("ix_alarm_events_alarm", "alarm_id", "id"),
    Index("ix_alarm_events_at", "at_us"),
    Index("ix_alarm_events_device", "device_id", "id"),
)

alarm_outbox = Table(
    "alarm_outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", Integer, nullable=False),
    Column("sink", Text, nullable=False),
    Column("format", String(16), nullable=False),
    Column("payload", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_us", BigInteger, nullable=False),
    Column("lease_until_us", BigInteger),
    Column("delivered_us", BigInteger),
    Column("last_error", Text),
    Column("created_us", BigInteger, nullable=False),
    Index("ix_alarm_outbox_due", "delivered_us", "next_attempt_us"),
)
