"""Historian v2, step 2: 1-minute rollups keyed by series id, written by a job instead of by ingest.

`rollups_1m` becomes (series_id, count, bucket, min, max, sum, last, last_ts), keyed by (series_id, bucket);
every existing rollup is copied (a series that only rollups still mention, its raw samples gone with
retention, is registered in `series` first). `rollup_pending` is new: ingest appends the minutes it wrote
into, the rollup job (gridos.telemetry.rollups) rolls them up once they are closed.

Revision ID: 0007_rollups_by_series
Revises: 0006_series_ids
Create Date: 2026-11-30
"""

# SQL here is assembled from constants of this migration, never input.
# ruff: noqa: S608

import sqlalchemy as sa
from alembic import op

revision = "0007_rollups_by_series"
down_revision = "0006_series_ids"
branch_labels = None
depends_on = None

_MINUTE = 60_000_000


def _aside(name: str, postgres: bool) -> None:
    """Rename rollups_1m to `name`, its index names too, so the new table can take them."""
    op.drop_index("ix_rollups_1m_bucket", table_name="rollups_1m")
    op.rename_table("rollups_1m", name)
    if postgres:
        op.execute(f"ALTER INDEX rollups_1m_pkey RENAME TO {name}_pkey")


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _aside("rollups_1m_v1", postgres)
    op.execute(
        "INSERT INTO series (device_id, measurement) SELECT DISTINCT r.device_id, r.measurement "
        "FROM rollups_1m_v1 r WHERE NOT EXISTS (SELECT 1 FROM series s "
        "WHERE s.device_id = r.device_id AND s.measurement = r.measurement) ORDER BY 1, 2"
    )
    # int4 next to int4 first: the 8-byte columns then need no padding (56 bytes of data per row).
    op.create_table(
        "rollups_1m",
        sa.Column("series_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("bucket", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
        sa.Column("last_ts", sa.BigInteger, nullable=False),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO rollups_1m (series_id, count, bucket, min, max, sum, last, last_ts) "
        "SELECT s.id, r.count, r.bucket, r.min, r.max, r.sum, r.last, r.last_ts FROM rollups_1m_v1 r "
        "JOIN series s ON s.device_id = r.device_id AND s.measurement = r.measurement ORDER BY s.id, r.bucket"
    )
    op.drop_table("rollups_1m_v1")
    # Retention deletes by bucket across every series.
    op.create_index("ix_rollups_1m_bucket", "rollups_1m", ["bucket"])
    # No key on purpose: concurrent ingest transactions only ever append here.
    op.create_table(
        "rollup_pending",
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("received_at", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    _aside("rollups_1m_v2", postgres)
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
    # The minutes still pending are recomputed from the raw samples, as the rollup job would have.
    pending = "SELECT bucket FROM rollup_pending"
    op.execute(
        "INSERT INTO rollups_1m (device_id, measurement, bucket, min, max, sum, count, last, last_ts) "
        "SELECT s.device_id, s.measurement, r.bucket, r.min, r.max, r.sum, r.count, r.last, r.last_ts "
        f"FROM rollups_1m_v2 r JOIN series s ON s.id = r.series_id WHERE r.bucket NOT IN ({pending})"
    )
    op.execute(
        "INSERT INTO rollups_1m (device_id, measurement, bucket, min, max, sum, count, last, last_ts) "
        "SELECT n.device_id, n.measurement, a.bucket, a.mn, a.mx, a.sm, a.cnt, x.value, a.lts FROM ("
        f" SELECT series_id, ts - ts % {_MINUTE} AS bucket, min(value) AS mn, max(value) AS mx,"
        " sum(value) AS sm, count(*) AS cnt, max(ts) AS lts FROM series_samples"
        f" WHERE quality < 2 AND ts - ts % {_MINUTE} IN ({pending}) GROUP BY series_id, ts - ts % {_MINUTE}) a"
        " JOIN series_samples x ON x.series_id = a.series_id AND x.ts = a.lts"
        " JOIN series n ON n.id = a.series_id"
    )
    op.drop_table("rollups_1m_v2")
    op.drop_table("rollup_pending")
    op.create_index("ix_rollups_1m_bucket", "rollups_1m", ["bucket"])
