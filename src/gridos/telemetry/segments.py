"""Segments: the samples of one series and closed minute in one row of arrays (PostgreSQL only).

`series_segments(series_id, bucket, offsets, values, qualities, received)`, keyed by (series_id, bucket)
and partitioned by day like `series_samples`: `bucket` is the minute's start (µs), `offsets` the samples'
µs from it (sorted), `qualities` NULL when every sample is good. A narrow row costs ~110 bytes per sample
(heap row + primary key entry per value); a segment of 60 samples ~22. Plain arrays, no codec: every SQL
reader (the view `samples`, exports, psql) can unnest them.

The rollup job moves each closed minute it rolled up into segments (`compact`): raw rows deleted and
segment written in one statement, so a crash leaves one or the other. Late samples into a compacted minute
are stored raw again, mark the minute pending, and the next run folds them into its segment.

SQLite, the embedded default, keeps raw rows: its databases are small, it has no array type, and JSON
arrays would make every reader twice as complicated for little gain there.
"""

# SQL here is assembled from constants of this module and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

from sqlalchemy import Connection, text

from gridos.clock import MINUTE_US

# The samples of segments, one row each, in the columns of series_samples.
SEGMENT_POINTS = (
    "SELECT g.series_id, coalesce(u.quality, 0) AS quality, g.bucket + u.off AS ts, u.value, u.received_at "
    "FROM series_segments g CROSS JOIN LATERAL unnest(g.offsets, g.values, g.qualities, g.received) "
    "AS u(off, value, quality, received_at)"
)


def points(postgres: bool, lo: str, hi: str, series: str = "") -> str:
    """A relation (series_id, quality, ts, value, received_at) of every stored sample, for SQL readers that
    select ts >= `lo` and ts < `hi` (SQL expressions, e.g. bound parameters). On PostgreSQL the union of the
    raw rows and the unnested segments, each narrowed to the range (segments by bucket, so only the
    partitions and index ranges in range are read) and, if given, to `series` (a condition on series_id:
    the planner does not push a sub-select into a union by itself). SQLite keeps raw rows only."""
    if not postgres:
        return f"(SELECT * FROM series_samples WHERE {series})" if series else "series_samples"
    cond = f"{series} AND " if series else ""
    return (
        f"(SELECT series_id, quality, ts, value, received_at FROM series_samples "
        f"WHERE {cond}ts >= {lo} AND ts < {hi} "
        f"UNION ALL {SEGMENT_POINTS} WHERE {cond}g.bucket > {lo} - {MINUTE_US} AND g.bucket < {hi})"
    )


# Minute :b of every series: its raw rows (deleted) and its segment if it has one (deleted too: late data
# being folded in) become one new segment. One statement: the deletes and the insert commit together.
# The raw rows are found by index descent per series, like the rollup job's reads. A minute after the
# horizon was never compacted, so there is no segment to fold (the usual case: the job goes forward): the
# one-time filter skips probing the segments' key once per series (~15 % of the statement). The rows are
# sorted once (`sorted`) and aggregated in that order (GroupAggregate and HashAggregate both keep input
# order within a group): four `array_agg(... ORDER BY ts)` sorted each group four times, ~20 % of the
# statement. `/*also*/` takes more data-modifying CTEs over `sorted` (the job's rollups).
_COMPACT = f"""
WITH moved AS (
    DELETE FROM series_samples WHERE series_id = ANY(ARRAY(SELECT id FROM series))
      AND ts >= :b AND ts < :b + {MINUTE_US}
    RETURNING series_id, quality, ts, value, received_at
), folded AS (
    DELETE FROM series_segments g WHERE g.bucket = :b AND g.series_id IN (SELECT series_id FROM moved)
      AND :b <= (SELECT bucket FROM segment_horizon)
    RETURNING g.*
), sorted AS MATERIALIZED (
    SELECT * FROM (
        SELECT series_id, quality, ts, value, received_at FROM moved
        UNION ALL
        SELECT g.series_id, coalesce(u.quality, 0), g.bucket + u.off, u.value, u.received_at
        FROM folded g CROSS JOIN LATERAL unnest(g.offsets, g.values, g.qualities, g.received)
             AS u(off, value, quality, received_at)
    ) merged ORDER BY series_id, ts
), written AS (
    INSERT INTO series_segments (series_id, bucket, offsets, values, qualities, received)
    SELECT series_id, :b, array_agg(CAST(ts - :b AS integer)), array_agg(value),
           CASE WHEN bool_and(quality = 0) THEN NULL ELSE array_agg(quality) END, array_agg(received_at)
    FROM sorted GROUP BY series_id
    RETURNING 1
)/*also*/
SELECT count(*) FROM written
"""


def compact(conn: Connection, bucket: int, also: str = "") -> int:
    """Move minute `bucket` of every series into segments, in the caller's transaction; `also`: more
    data-modifying CTEs (`name AS (...)`) over `sorted`, every sample of the minute that gets a new segment,
    by series and time, in the same statement. Returns how many segments were written."""
    sql = _COMPACT.replace("/*also*/", f", {also}" if also else "")
    written = int(conn.execute(text(sql), {"b": bucket}).scalar_one())
    if written:
        # Ingest checks batches reaching back to this minute or before against the segments.
        conn.execute(text("UPDATE segment_horizon SET bucket = :b WHERE bucket < :b"), {"b": bucket})
    return written
