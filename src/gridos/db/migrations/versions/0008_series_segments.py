"""Historian v2, step 3: closed minutes compacted into one row per series and minute (PostgreSQL).

`series_segments(series_id, bucket, offsets, values, qualities, received)`, keyed by (series_id, bucket),
range-partitioned by day like `series_samples` (`series_segments_pYYYYMMDD`, one per existing day partition,
same bounds); `segment_horizon` holds the newest minute ever compacted (ingest checks batches reaching back
to it against the segments). Every existing raw sample is compacted here, one INSERT ... SELECT and a
TRUNCATE per day partition, in the migration's transaction; the rollup job compacts from then on
(gridos.telemetry.segments). `samples` becomes the union of both. SQLite keeps raw rows: nothing changes.

Revision ID: 0008_series_segments
Revises: 0007_rollups_by_series
Create Date: 2026-11-30
"""

# SQL here is assembled from catalog names of this schema, never input.
# ruff: noqa: S608

from alembic import op

revision = "0008_series_segments"
down_revision = "0007_rollups_by_series"
branch_labels = None
depends_on = None

_MINUTE = 60_000_000
_OLD_VIEW = """
CREATE VIEW samples AS
SELECT s.device_id, s.measurement, x.ts, x.value, x.quality, x.received_at
FROM series_samples x JOIN series s ON s.id = x.series_id
"""
# The union of raw rows and unnested segments, for readers without a time range (gridos.telemetry.segments
# `points` is the same, narrowed to a range).
_VIEW = """
CREATE VIEW samples AS
SELECT s.device_id, s.measurement, x.ts, x.value, x.quality, x.received_at FROM (
    SELECT series_id, quality, ts, value, received_at FROM series_samples
    UNION ALL
    SELECT g.series_id, coalesce(u.quality, 0), g.bucket + u.off, u.value, u.received_at
    FROM series_segments g CROSS JOIN LATERAL unnest(g.offsets, g.values, g.qualities, g.received)
         AS u(off, value, quality, received_at)
) x JOIN series s ON s.id = x.series_id
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
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE TABLE series_segments (
            series_id integer            NOT NULL,
            bucket    bigint             NOT NULL,
            offsets   integer[]          NOT NULL,
            values    double precision[] NOT NULL,
            qualities smallint[],
            received  bigint[]           NOT NULL,
            PRIMARY KEY (series_id, bucket)
        ) PARTITION BY RANGE (bucket)
        """
    )
    for name, bound in _partitions("series_samples"):
        segments = name.replace("series_samples_p", "series_segments_p")
        op.execute(f"CREATE TABLE {segments} PARTITION OF series_segments {bound}")
        op.execute(
            f"INSERT INTO {segments} (series_id, bucket, offsets, values, qualities, received) "
            f"SELECT series_id, ts - ts % {_MINUTE}, array_agg(CAST(ts % {_MINUTE} AS integer) ORDER BY ts), "
            "array_agg(value ORDER BY ts), "
            "CASE WHEN bool_and(quality = 0) THEN NULL ELSE array_agg(quality ORDER BY ts) END, "
            f"array_agg(received_at ORDER BY ts) FROM {name} GROUP BY series_id, ts - ts % {_MINUTE} "
            "ORDER BY 1, 2"
        )
        op.execute(f"TRUNCATE {name}")
    op.execute("CREATE TABLE segment_horizon (bucket bigint NOT NULL)")
    op.execute("INSERT INTO segment_horizon SELECT coalesce(max(bucket), -1) FROM series_segments")
    op.execute("DROP VIEW samples")
    op.execute(_VIEW)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP VIEW samples")
    op.execute(
        "INSERT INTO series_samples (series_id, quality, ts, value, received_at) "
        "SELECT g.series_id, coalesce(u.quality, 0), g.bucket + u.off, u.value, u.received_at "
        "FROM series_segments g CROSS JOIN LATERAL unnest(g.offsets, g.values, g.qualities, g.received) "
        "AS u(off, value, quality, received_at)"
    )
    op.execute("DROP TABLE series_segments")  # its partitions go with it
    op.execute("DROP TABLE segment_horizon")
    op.execute(_OLD_VIEW)
