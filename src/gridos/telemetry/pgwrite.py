"""The PostgreSQL write path of `SampleStore.write`: a batch's samples, the minutes they mark for the rollup
job and the latest values, in the caller's transaction.

Large batches go by binary COPY (rows packed with one struct call each) straight into `series_samples`,
falling back to staged ON CONFLICT DO NOTHING only when the COPY hits an existing key (a client retry);
small batches of recent samples go in one statement (`write_small`), since under load each round trip to
the database waits for a core and the GIL.
"""

# SQL here is assembled from constants and catalog names of this code base, never input.
# ruff: noqa: S608

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from sqlalchemy import Connection, event

from gridos.clock import MINUTE_US
from gridos.telemetry.rollups import GRACE_US, pending_marks
from gridos.telemetry.samples import Sample

SeriesKey = tuple[str, str]

_PG_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS gridos_stage (
    device_id varchar(128), measurement varchar(64), ts bigint,
    value double precision, quality smallint, received_at bigint
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS gridos_series_stage (
    series_id integer, quality smallint, ts bigint, value double precision, received_at bigint
) ON COMMIT DELETE ROWS
"""

_COLUMNS = "device_id, measurement, ts, value, quality, received_at"
# (series_id, quality, ts, value, received_at): the physical column order of series_samples.
KeyedRow = tuple[int, int, int, float, int]
KEYED_COLUMNS = "series_id, quality, ts, value, received_at"

_PG_DEDUP_INSERT = """
INSERT INTO series_samples (series_id, quality, ts, value, received_at)
SELECT series_id, quality, ts, value, received_at FROM gridos_series_stage
ON CONFLICT DO NOTHING RETURNING series_id, quality, ts, value, received_at
"""

# Every write path merges latest values this way (SQLite's too): a row of `latest_samples AS l` is replaced
# only by a sample at least as new.
LATEST_UPSERT = """
ON CONFLICT (device_id, measurement) DO UPDATE SET
    ts = EXCLUDED.ts, value = EXCLUDED.value, quality = EXCLUDED.quality, received_at = EXCLUDED.received_at
WHERE EXCLUDED.ts >= l.ts
"""

_PG_MERGE_LATEST = f"""
INSERT INTO latest_samples AS l (device_id, measurement, ts, value, quality, received_at)
SELECT device_id, measurement, ts, value, quality, received_at FROM gridos_stage ORDER BY device_id, measurement
{LATEST_UPSERT}"""


def write_postgres(
    conn: Connection,
    rows: Sequence[Sample],
    keyed: Sequence[KeyedRow],
    marks: list[tuple[int, int]],
    names: Callable[[int], SeriesKey],
    name_fields: Callable[[SeriesKey], bytes],
) -> int:
    """Fast path: binary COPY straight into `series_samples`. Client retries are rare, so only when the
    COPY hits an existing key (a savepoint makes that cheap to undo) is the batch staged and inserted with
    ON CONFLICT DO NOTHING. Either way the latest values are then merged from exactly the rows that were
    new (one COPY and one upsert), and the minutes they fall into are marked for the rollup job (`marks`:
    those of all the rows, recomputed when some were not new)."""
    dbapi = conn.connection
    raw = dbapi.driver_connection
    assert raw is not None
    with raw.cursor() as cur:
        # The staging tables live as long as the session; created by the first batch on a connection (a
        # rollback takes them away again, hence the flag is only set once that transaction committed).
        if not dbapi.info.get("gridos_stage"):
            cur.execute(_PG_STAGE)
            event.listen(
                conn, "commit", lambda _conn: dbapi.info.__setitem__("gridos_stage", True), once=True
            )
        try:
            with raw.transaction():
                _copy_keyed(cur, "series_samples", keyed)
            new: Sequence[Sample] = rows
            new_keyed: Sequence[Sequence[Any]] = keyed
        except psycopg.errors.UniqueViolation:
            _copy_keyed(cur, "gridos_series_stage", keyed)
            cur.execute(_PG_DEDUP_INSERT)
            new_keyed = cur.fetchall()
            new = named(new_keyed, names)
            cur.execute("TRUNCATE gridos_series_stage")
            marks = pending_marks(new)
        compacted = _drop_compacted(cur, new_keyed, marks[0][0] if marks else 0)
        if compacted:
            new = [r for r, k in zip(new, new_keyed, strict=True) if (k[0], k[2]) not in compacted]
            new_keyed = [k for k in new_keyed if (k[0], k[2]) not in compacted]
            marks = pending_marks(new)
        if not new:
            return 0
        cur.executemany("INSERT INTO rollup_pending (bucket, received_at) VALUES (%s, %s)", marks)
        _copy_latest(cur, newest_per_series(new), name_fields)
        cur.execute(_PG_MERGE_LATEST)
    return len(new)


# Batches of at most this many samples, all in minutes the rollup job cannot have compacted (it takes
# minutes that ended GRACE_US ago; 5 s more for clocks of replicas that disagree), are written by one
# statement: a device's reading, an MQTT message, a Modbus poll. The batch path below takes ~10 round
# trips to the database, each of which waits for a core and the GIL when the machine is busy: that is most
# of a single alarming sample's latency under load.
SMALL_BATCH = 64
OPEN_MINUTES_US = MINUTE_US + GRACE_US - 5_000_000
_PG_WRITE_SMALL = f"""
WITH new AS (
    INSERT INTO series_samples (series_id, quality, ts, value, received_at)
    SELECT * FROM unnest(CAST(%(sid)s AS integer[]), CAST(%(q)s AS smallint[]), CAST(%(ts)s AS bigint[]),
                         CAST(%(v)s AS double precision[]), CAST(%(r)s AS bigint[]))
    ON CONFLICT DO NOTHING RETURNING series_id, quality, ts, value, received_at
), marks AS (
    INSERT INTO rollup_pending (bucket, received_at)
    SELECT DISTINCT ts - ts %% {MINUTE_US}, received_at FROM new
), latest AS (
    INSERT INTO latest_samples AS l (device_id, measurement, ts, value, quality, received_at)
    SELECT device_id, measurement, ts, value, quality, received_at FROM (
        SELECT DISTINCT ON (n.series_id) s.device_id, s.measurement, n.ts, n.value, n.quality, n.received_at
        FROM new n JOIN series s ON s.id = n.series_id ORDER BY n.series_id, n.ts DESC) x
    ORDER BY device_id, measurement
    {LATEST_UPSERT}
)
SELECT count(*) FROM new
"""


def write_small(conn: Connection, keyed: Sequence[KeyedRow]) -> int:
    """A small batch of recent samples in one statement: the same three writes as `write_postgres` (new
    samples, their minutes marked, latest values merged in (device, measurement) order), no segment can
    hold them yet."""
    sid, q, ts, v, r = (list(c) for c in zip(*keyed, strict=True))
    raw = conn.connection.driver_connection
    assert raw is not None
    row = raw.execute(_PG_WRITE_SMALL, {"sid": sid, "q": q, "ts": ts, "v": v, "r": r}).fetchone()
    return int(row[0]) if row else 0


# The rows of this batch (staged) whose sample a segment already holds: a retry of a batch compacted since.
_PG_DROP_COMPACTED = f"""
DELETE FROM series_samples x USING gridos_series_stage s
WHERE x.series_id = s.series_id AND x.ts = s.ts AND x.ts >= %(lo)s AND x.ts < %(hi)s AND EXISTS (
    SELECT 1 FROM series_segments g WHERE g.series_id = s.series_id AND g.bucket = s.ts - s.ts %% {MINUTE_US}
    AND g.bucket >= %(lo)s AND g.bucket < %(hi)s AND CAST(s.ts - g.bucket AS integer) = ANY(g.offsets))
RETURNING x.series_id, x.ts
"""


def _drop_compacted(
    cur: psycopg.Cursor, keyed: Sequence[Sequence[Any]], first_minute: int
) -> set[tuple[int, int]]:
    """Remove again the rows just inserted whose (series_id, ts) a segment holds, returning their keys.
    Only rows in a minute up to the newest one ever compacted (`segment_horizon`) can be such: a batch of
    recent samples reads one row and pays nothing more. Read after the insert, so a compaction that commits
    meanwhile is seen (its horizon and its segments), and one still running has not deleted the raw row
    the insert would then have waited for."""
    horizon = cur.execute("SELECT bucket FROM segment_horizon").fetchone()
    if not keyed or horizon is None or first_minute > horizon[0]:
        return set()
    old = [k for k in keyed if k[2] - k[2] % MINUTE_US <= horizon[0]]
    if not old:
        return set()
    _copy_keyed(cur, "gridos_series_stage", old)
    lo = min(k[2] for k in old)
    cur.execute(_PG_DROP_COMPACTED, {"lo": lo - lo % MINUTE_US, "hi": max(k[2] for k in old) + 1})
    found = {(sid, ts) for sid, ts in cur.fetchall()}
    cur.execute("TRUNCATE gridos_series_stage")
    return found


def named(keyed: Sequence[Sequence[Any]], names: Callable[[int], SeriesKey]) -> list[Sample]:
    """Keyed rows (as stored) -> rows with the device and measurement names latest values are kept by."""
    return [(*names(sid), ts, value, quality, received) for sid, quality, ts, value, received in keyed]


# PostgreSQL's binary COPY format for keyed rows: a header, per row the field count and each field as
# length + big-endian value (int4, int2, int8, float8, int8), and a trailer. Packed with one struct call
# per row: psycopg's write_row, which dumps field by field, took 2-3 times as long on a 5,000-row batch.
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = struct.pack(">h", -1)
_pack_keyed = struct.Struct(">hiiihiqidiq").pack


def _copy_keyed(cur: psycopg.Cursor, table: str, rows: Sequence[Sequence[Any]]) -> None:
    payload = b"".join([_pack_keyed(5, 4, s, 2, q, 8, t, 8, v, 8, r) for s, q, t, v, r in rows])
    with cur.copy(f"COPY {table} ({KEYED_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_HEADER + payload + _COPY_TRAILER)


_pack_latest = struct.Struct(">iqidihiq").pack


def _copy_latest(
    cur: psycopg.Cursor, newest: Sequence[Sample], name_fields: Callable[[SeriesKey], bytes]
) -> None:
    """Stage these latest values in `gridos_stage` for the merge: per row the series' name fields (made
    once per series) and one struct call."""
    parts = [name_fields((d, m)) + _pack_latest(8, t, 8, v, 2, q, 8, r) for d, m, t, v, q, r in newest]
    with cur.copy(f"COPY gridos_stage ({_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_HEADER + b"".join(parts) + _COPY_TRAILER)


def newest_per_series(rows: Sequence[Sample]) -> list[Sample]:
    newest: dict[SeriesKey, Sample] = {}
    for r in rows:
        key = (r[0], r[1])
        current = newest.get(key)
        if current is None or r[2] >= current[2]:
            newest[key] = r
    return list(newest.values())
