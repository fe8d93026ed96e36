"""Historian v2, step 1: integer series ids instead of two repeated strings per raw sample.

`series` hands out one integer per (device_id, measurement); raw samples move to `series_samples`
(series_id, quality, ts, value, received_at), keyed by (series_id, ts) and, on PostgreSQL, range-partitioned
by day as before (`series_samples_pYYYYMMDD`, one per existing `samples_pYYYYMMDD`, same bounds). Every
existing sample is copied. `samples` becomes a view with the old columns, so every reader of the history
(archive, export, events, queries) keeps its SQL; writes and deletes go to `series_samples`.

The copy is one INSERT ... SELECT per day partition, in the migration's transaction: minutes for
hundreds of millions of rows, and the service cannot write meanwhile (it waits on the migration lock).

Revision ID: 0006_series_ids
Revises: 0005_archive_catalog
Create Date: 2026-11-29
"""

# SQL here is assembled from catalog names of this schema, never input.
# ruff: noqa: S608

import sqlalchemy as sa
from alembic import op

revision = "0006_series_ids"
down_revision = "0005_archive_catalog"
branch_labels = None
depends_on = None

_VIEW = """
CREATE VIEW samples AS
SELECT s.device_id, s.measurement, x.ts, x.value, x.quality, x.received_at
FROM series_samples x JOIN series s ON s.id = x.series_id
"""


def _partitions(parent: str) -> list[tuple[str, str]]:
    """(name, bound expression) of every partition of `parent`."""
    rows = op.get_bind().exec_driver_sql(
        "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
        "JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
        f"WHERE p.relname = '{parent}' ORDER BY c.relname"
    )
    return [(r[0], r[1]) for r in rows]


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "series",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("device_id", sa.String(128), nullable=False),
        sa.Column("measurement", sa.String(64), nullable=False),
        sa.UniqueConstraint("device_id", "measurement", name="uq_series_device_measurement"),
    )
    op.execute(
        "INSERT INTO series (device_id, measurement) "
        "SELECT DISTINCT device_id, measurement FROM samples ORDER BY device_id, measurement"
    )
    if postgres:
        # quality (int2) right after series_id (int4): the 8-byte columns then need no padding.
        op.execute(
            """
            CREATE TABLE series_samples (
                series_id   integer          NOT NULL,
                quality     smallint         NOT NULL,
                ts          bigint           NOT NULL,
                value       double precision NOT NULL,
                received_at bigint           NOT NULL,
                PRIMARY KEY (series_id, ts)
            ) PARTITION BY RANGE (ts)
            """
        )
        for name, bound in _partitions("samples"):
            new = "series_" + name  # samples_pYYYYMMDD -> series_samples_pYYYYMMDD
            op.execute(f"CREATE TABLE {new} PARTITION OF series_samples {bound}")
            op.execute(
                f"INSERT INTO {new} (series_id, quality, ts, value, received_at) "
                f"SELECT s.id, x.quality, x.ts, x.value, x.received_at FROM {name} x "
                "JOIN series s ON s.device_id = x.device_id AND s.measurement = x.measurement "
                "ORDER BY s.id, x.ts"
            )
    else:
        op.create_table(
            "series_samples",
            sa.Column("series_id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("quality", sa.SmallInteger, nullable=False),
            sa.Column("ts", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("value", sa.Float, nullable=False),
            sa.Column("received_at", sa.BigInteger, nullable=False),
            sqlite_with_rowid=False,
        )
        op.execute(
            "INSERT INTO series_samples (series_id, quality, ts, value, received_at) "
            "SELECT s.id, x.quality, x.ts, x.value, x.received_at FROM samples x "
            "JOIN series s ON s.device_id = x.device_id AND s.measurement = x.measurement "
            "ORDER BY s.id, x.ts"
        )
    op.execute("DROP TABLE samples")  # on PostgreSQL its partitions go with it
    op.execute(_VIEW)
    if postgres:
        # Ingest upserts the latest row of every series again with each batch: with free room in the page
        # the new version stays there (a HOT update, no index entry) and the old one is pruned on the next
        # visit, instead of the table growing by a row version per batch until autovacuum comes (3.5 ->
        # 0.7 bytes per sample in the ingest benchmark). Not for rollups_1m: a closed minute's row is
        # never updated again, and half-empty pages would double the rollups kept for 400 days.
        op.execute("ALTER TABLE latest_samples SET (fillfactor = 50)")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("ALTER TABLE latest_samples RESET (fillfactor)")
    op.execute("DROP VIEW samples")
    if postgres:
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
        for name, bound in _partitions("series_samples"):
            op.execute(f"CREATE TABLE {name.removeprefix('series_')} PARTITION OF samples {bound}")
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
    op.execute(
        "INSERT INTO samples (device_id, measurement, ts, value, quality, received_at) "
        "SELECT s.device_id, s.measurement, x.ts, x.value, x.quality, x.received_at "
        "FROM series_samples x JOIN series s ON s.id = x.series_id"
    )
    op.execute("DROP TABLE series_samples")
    op.drop_table("series")
