"""Alarms: rules (+ their audit), the current state of every alarm point, the transition journal (the
audit trail of the lifecycle) and the notification outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm_rules",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("measurement", sa.String(64), nullable=False),
        sa.Column("limits", sa.JSON, nullable=False),
        sa.Column("on_delay_s", sa.Float, nullable=False),
        sa.Column("off_delay_s", sa.Float, nullable=False),
        sa.Column("realarm_s", sa.Float),
        sa.Column("latching", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("created_us", sa.BigInteger, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_index("uq_alarm_rules_series", "alarm_rules", ["device_id", "measurement"], unique=True)
    op.create_table(
        "alarm_rule_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rule_id", sa.Integer),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("measurement", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    op.create_table(
        "alarms",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("measurement", sa.String(64), nullable=False),
        sa.Column("condition", sa.String(8), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("core", sa.String(32), nullable=False),
        sa.Column("condition_active", sa.Boolean, nullable=False),
        sa.Column("latched", sa.Boolean, nullable=False),
        sa.Column("pending_on_us", sa.BigInteger),
        sa.Column("pending_off_us", sa.BigInteger),
        sa.Column("last_ts_us", sa.BigInteger),
        sa.Column("shelved", sa.String(16)),
        sa.Column("shelved_until_us", sa.BigInteger),
        sa.Column("suppressed", sa.Boolean, nullable=False),
        sa.Column("out_of_service", sa.Boolean, nullable=False),
        sa.Column("activations", sa.JSON, nullable=False),
        sa.Column("chattering", sa.Boolean, nullable=False),
        sa.Column("value", sa.Float),
        sa.Column("limit_value", sa.Float),
        sa.Column("activated_at_us", sa.BigInteger),
        sa.Column("acked_at_us", sa.BigInteger),
        sa.Column("changed_at_us", sa.BigInteger),
        sa.Column("actor", sa.String(200)),
        sa.Column("comment", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_us", sa.BigInteger, nullable=False),
    )
    op.create_index("uq_alarms_point", "alarms", ["device_id", "measurement", "condition"], unique=True)
    op.create_index("ix_alarms_state", "alarms", ["state"])
    op.create_index("ix_alarms_updated", "alarms", ["updated_us"])
    op.create_table(
        "alarm_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alarm_id", sa.Integer, nullable=False),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("measurement", sa.String(64), nullable=False),
        sa.Column("condition", sa.String(8), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(32), nullable=False),
        sa.Column("to_state", sa.String(32), nullable=False),
        sa.Column("at_us", sa.BigInteger, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("value", sa.Float),
        sa.Column("limit_value", sa.Float),
        sa.Column("sample_ts_us", sa.BigInteger),
        sa.Column("received_us", sa.BigInteger),
        sa.Column("snapshot", sa.JSON),
    )
    op.create_index("ix_alarm_events_device", "alarm_events", ["device_id", "id"])
    op.create_index("ix_alarm_events_at", "alarm_events", ["at_us"])
    op.create_index("ix_alarm_events_alarm", "alarm_events", ["alarm_id", "id"])
    op.create_table(
        "alarm_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("sink", sa.Text, nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_us", sa.BigInteger, nullable=False),
        sa.Column("lease_until_us", sa.BigInteger),
        sa.Column("delivered_us", sa.BigInteger),
        sa.Column("last_error", sa.Text),
        sa.Column("created_us", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_alarm_outbox_due", "alarm_outbox", ["delivered_us", "next_attempt_us"])


def downgrade() -> None:
    for name in ("alarm_outbox", "alarm_events", "alarms", "alarm_rule_audit", "alarm_rules"):
        op.drop_table(name)
