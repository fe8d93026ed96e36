"""Core schema: device registry and the time series (raw samples, latest values, 1-minute rollups).

On PostgreSQL `samples` is range-partitioned by day on `ts` (epoch microseconds); the service creates
partitions ahead of time and drops whole partitions for retention. The primary key
(device_id, measurement, ts) is the idempotency key and the index of "range of one device"; "latest per
device" reads `latest_samples`, kept current by ingest, never a scan of `samples`.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("name", sa.Text),
        sa.Column("nominal_voltage", sa.Float),
        sa.Column("rated_current", sa.Float),
        sa.Column("nominal_frequency", sa.Float),
        sa.Column("rated_power", sa.Float),
        sa.Column("expected_interval_s", sa.Float, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_devices_site", "devices", ["site"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE TABLE samples (
                device_id   varchar(128)     NOT NULL,
                measurement varchar(64)      NOT NULL,
                ts          bigint           NOT NULL,
                value       double precision NOT NULL,
                quality     smallint         NOT NULL,
                received_at bigint           NOT NULL,
                PRIMARY KEY (device_id, measurement, ts)
            ) PARTITION BY RANGE (ts)
            """
        )
    else:
        op.create_table(
            "samples",
            sa.Column("device_id", sa.String(128), primary_key=True),
            sa.Column("measurement", sa.String(64), primary_key=True),
            sa.Column("ts", sa.BigInteger, primary_key=True),
            sa.Column("value", sa.Float, nullable=False),
            sa.Column("quality", sa.SmallInteger, nullable=False),
            sa.Column("received_at", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False,
        )

    op.create_table(
        "latest_samples",
        sa.Column("device_id", sa.String(128), primary_key=True),
        sa.Column("measurement", sa.String(64), primary_key=True),
        sa.Column("ts", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=False),
        sa.Column("quality", sa.SmallInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "rollups_1m",
        sa.Column("device_id", sa.String(128), primary_key=True),
        sa.Column("measurement", sa.String(64), primary_key=True),
        sa.Column("bucket", sa.BigInteger, primary_key=True),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_rollups_1m_bucket", "rollups_1m", ["bucket"])


def downgrade() -> None:
    op.drop_table("rollups_1m")
    op.drop_table("latest_samples")
    op.execute("DROP TABLE samples")
    op.drop_table("devices")
