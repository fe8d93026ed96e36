"""The 1-minute rollups: written once per closed minute by a job, never by ingest, and read exactly.

Ingest appends one `rollup_pending(bucket, received_at)` row per minute its batch wrote into, in its own
transaction (no key: concurrent writers never wait on each other). The job (`RollupJob.run`, every
GRIDOS_ROLLUP_INTERVAL_SECONDS, one replica at a time) takes the marks of closed minutes and, in one
transaction with their removal, recomputes those minutes of every series from the raw samples (idempotent:
a retried batch inserted no rows, late data only marks its minute again). Readers (`rollup_buckets`)
take the rollups of the minutes that are not pending and aggregate the pending ones from the raw samples,
in one statement, so one snapshot: a minute is always counted once and exactly.

A minute whose day is no longer all in the hot tier (archived, or past raw retention) cannot be recomputed
from the hot rows. Late data into such a minute is merged into its rollup instead: exactly the rows of the
marking batches (their `received_at`), once, since the marks go in the same transaction.
"""

# SQL here is assembled from constants of this module and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

from gridos.clock import MINUTE_US, day_start_us, to_us
from gridos.config import Settings
from gridos.db import locks
from gridos.telemetry.samples import INVALID
from gridos.telemetry.segments import compact, points

log = logging.getLogger("gridos.telemetry.rollups")

# A minute is rolled up once it ended this long ago: batches in flight for it have committed by then (later
# ones only mark it again).
GRACE_US = 10_000_000
# Small transactions with pauses between them (GRIDOS_ROLLUP_PAUSE_RATIO): a minute of 1,000 series x 60
# samples costs ~0.1 s to roll up and compact, and 60 of them back to back held a core for seconds, which is
# what made the alarm latency tail under load (docs/benchmarks.md, Historian v2 step 4).
MINUTES_PER_TRANSACTION = 5
COMPACTION_WORK_MEM = "64MB"  # for the job's transaction only


# Buckets of `:step` µs of series `:sid` in [:s, :e) (whole minutes): bucket, min, max, sum, count, the last
# value (of the newest valid sample) and its time. A minute pending since `:hot` (all its raw samples hot)
# comes from its raw samples alone; an older pending minute from its rollup plus the raw samples of the
# batches it is pending for (what the job will merge); every other minute from its rollup. The history API
# and the cold tier's merge (gridos.archive.query) both read rollups this way.
def rollup_buckets(postgres: bool) -> str:
    """The buckets query below for this backend: raw samples from `points` (segments on PostgreSQL)."""
    # Raw samples are read for pending minutes only: from the first of them, not from :s (a long range
    # would otherwise unnest every segment in it, a segment's ts not being indexable).
    first_pending = "(SELECT coalesce(min(bucket), :e) FROM pending)"
    return _ROLLUP_BUCKETS.format(samples=points(postgres, first_pending, ":e", "series_id = :sid"))


_ROLLUP_BUCKETS = f"""
WITH pending AS (
    SELECT DISTINCT bucket FROM rollup_pending WHERE bucket >= :s AND bucket < :e
), minutes AS (
    SELECT bucket, min, max, sum, count, last, last_ts FROM rollups_1m
    WHERE series_id = :sid AND bucket >= :s AND bucket < :e
      AND bucket NOT IN (SELECT bucket FROM pending WHERE bucket >= :hot)
    UNION ALL
    SELECT a.bucket, a.mn, a.mx, a.sm, a.cnt, x.value, a.lts FROM (
        SELECT p.bucket, min(v.value) AS mn, max(v.value) AS mx, sum(v.value) AS sm, count(*) AS cnt,
               max(v.ts) AS lts
        FROM pending p JOIN {{samples}} v ON v.series_id = :sid AND v.ts >= p.bucket
             AND v.ts < p.bucket + {MINUTE_US} AND v.ts >= :s AND v.ts < :e AND v.quality < {INVALID}
        WHERE p.bucket >= :hot OR v.received_at IN (
            SELECT r.received_at FROM rollup_pending r WHERE r.bucket = p.bucket)
        GROUP BY p.bucket) a
    JOIN {{samples}} x ON x.series_id = :sid AND x.ts = a.lts AND x.ts >= :s AND x.ts < :e
)
SELECT b.bucket, b.mn, b.mx, b.sm, b.cnt, m.last, b.lts FROM (
    SELECT bucket - bucket % :step AS bucket, min(min) AS mn, max(max) AS mx, sum(sum) AS sm,
           CAST(sum(count) AS BIGINT) AS cnt, max(last_ts) AS lts
    FROM minutes GROUP BY bucket - bucket % :step) b
JOIN minutes m ON m.last_ts = b.lts ORDER BY b.bucket
"""

# One minute [:b, :b + 1 min) of every series, from its valid raw samples ({samples}: `points` narrowed to
# index ranges per series; {received} optionally to some batches' rows). PostgreSQL reads them once, sorted
# by series and time, and takes the last value as the last element of the minute's values (GroupAggregate
# keeps the input order within a group); the join back to the newest sample read every row twice (25 vs
# 30 ms per minute of 1,000 series x 60 samples). SQLite has no arrays: it joins back.
_PG_MINUTE = (
    "series_id, count(*), :b, min(value), max(value), sum(value), (array_agg(value))[count(*)], max(ts)"
)
_MINUTE_AGGREGATES_PG = f"""
SELECT {_PG_MINUTE}
FROM (SELECT series_id, ts, value FROM {{samples}} v
      WHERE ts >= :b AND ts < :b + {MINUTE_US} AND quality < {INVALID} {{received}} ORDER BY series_id, ts) o
GROUP BY series_id
"""
_MINUTE_AGGREGATES_SQLITE = f"""
SELECT a.series_id, a.cnt, a.bucket, a.mn, a.mx, a.sm, x.value, a.lts FROM (
    SELECT series_id, count(*) AS cnt, ts - ts % {MINUTE_US} AS bucket, min(value) AS mn,
           max(value) AS mx, sum(value) AS sm, max(ts) AS lts
    FROM {{samples}} v
    WHERE ts >= :b AND ts < :b + {MINUTE_US} AND quality < {INVALID} {{received}}
    GROUP BY series_id, ts - ts % {MINUTE_US}) a
JOIN {{samples}} x ON x.series_id = a.series_id AND x.ts = a.lts AND x.ts >= :b AND x.ts < :b + {MINUTE_US}
WHERE true
"""
_INSERT = "INSERT INTO rollups_1m AS r (series_id, count, bucket, min, max, sum, last, last_ts) "
_REPLACE = (
    " ON CONFLICT (series_id, bucket) DO UPDATE SET count = excluded.count, min = excluded.min,"
    " max = excluded.max, sum = excluded.sum, last = excluded.last, last_ts = excluded.last_ts"
)
_MERGE = (
    " ON CONFLICT (series_id, bucket) DO UPDATE SET count = r.count + excluded.count,"
    " min = CASE WHEN excluded.min < r.min THEN excluded.min ELSE r.min END,"
    " max = CASE WHEN excluded.max > r.max THEN excluded.max ELSE r.max END,"
    " sum = r.sum + excluded.sum,"
    " last = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last ELSE r.last END,"
    " last_ts = CASE WHEN excluded.last_ts >= r.last_ts THEN excluded.last_ts ELSE r.last_ts END"
)


# PostgreSQL: a hot minute's rollups computed in the job's compaction statement from the rows it moves into
# segments (`sorted`, gridos.telemetry.segments.compact): the minute is read and sorted once for both.
_ROLLUP_SORTED = f"""rolled AS (
    {_INSERT}
    SELECT {_PG_MINUTE}
    FROM sorted WHERE quality < {INVALID} GROUP BY series_id
    {_REPLACE}
)"""


def pending_marks(rows: Iterable[tuple]) -> list[tuple[int, int]]:
    """(minute, received_at) of every minute these rows (device, measurement, ts, value, quality,
    received_at) fall into: what ingest appends to `rollup_pending`, a row or two per batch."""
    return sorted({(r[2] - r[2] % MINUTE_US, r[5]) for r in rows})


class RollupJob:
    """Rolls up closed minutes; also tells readers from when on raw samples are all hot."""

    def __init__(self, settings: Settings, engine: Engine, sqlite_write_lock: threading.Lock) -> None:
        self.engine = engine
        self._sqlite_write_lock = sqlite_write_lock  # the store's: one writer per SQLite process
        self.interval_s = settings.rollup_interval_seconds
        self.pause_ratio = settings.rollup_pause_ratio
        self.postgres = engine.dialect.name == "postgresql"
        # Archived days lose their hot rows after GRIDOS_ARCHIVE_AFTER_DAYS, the others after retention.
        self.hot_days = settings.archive.after_days if settings.archive.enabled else settings.retention_days
        # PostgreSQL descends the primary key once per series (an index range each) instead of scanning
        # the day partition; SQLite does the same with IN.
        series = (
            "series_id = ANY(ARRAY(SELECT id FROM series))"
            if self.postgres
            else ("series_id IN (SELECT id FROM series)")
        )
        self._samples = points(self.postgres, ":b", f":b + {MINUTE_US}", series)
        self._aggregates = _MINUTE_AGGREGATES_PG if self.postgres else _MINUTE_AGGREGATES_SQLITE
        self._replace = _INSERT + self._aggregates.format(samples=self._samples, received="") + _REPLACE
        self.buckets_sql = rollup_buckets(self.postgres)

    def hot_from_us(self, now: datetime) -> int:
        """The start of the oldest day whose raw samples are all still in the hot tier."""
        return day_start_us(now.astimezone(UTC).date() - timedelta(days=self.hot_days))

    def run(self, now: datetime | None = None, pause: bool = True) -> int:
        """Roll up every closed pending minute; returns how many minutes. A transaction per
        MINUTES_PER_TRANSACTION minutes (a backlog after an outage is drained in bounded transactions): a
        crash leaves the marks of the unfinished one, and the next run does that work again. Between
        transactions it pauses `pause_ratio` times as long as the last one took, as long as the run then
        still ends within the job's interval; `pause=False` (the archiver, which needs every minute rolled
        up before it archives a day) never pauses."""
        now = now or datetime.now(UTC)
        done = 0
        started = time.monotonic()
        while True:
            began = time.monotonic()
            n = self._run_once(now)
            done += n
            if n < MINUTES_PER_TRANSACTION:
                return done
            wait = (time.monotonic() - began) * self.pause_ratio
            if pause and time.monotonic() + wait - started < self.interval_s:
                time.sleep(wait)

    def _run_once(self, now: datetime) -> int:
        with contextlib.ExitStack() as stack:
            if not self.postgres:
                stack.enter_context(self._sqlite_write_lock)
            conn = stack.enter_context(self.engine.begin())
            if self.postgres:
                # Another replica is at it: its run covers these minutes.
                if not conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({locks.ROLLUPS})").scalar():
                    return 0
                # The compaction sorts a minute of every series' samples (60k rows at 1,000 series x 1 Hz);
                # PostgreSQL's default 4 MB made that an on-disk merge (133 -> 109 ms per such minute). Its
                # commits need not wait for their WAL flush: a crash loses whole transactions of the job, whose
                # marks are then still there to redo, and whatever saw one and committed flushed it too.
                conn.exec_driver_sql(
                    f"SELECT set_config('work_mem', '{COMPACTION_WORK_MEM}', true), "
                    "set_config('synchronous_commit', 'off', true)"
                )
            else:
                locks.sqlite_write_lock(conn)
            # Only the marks this statement sees go: a batch committing meanwhile keeps its own, and every
            # raw row of the marks taken is visible to the statements below (read committed).
            taken = conn.execute(
                text(
                    "DELETE FROM rollup_pending WHERE bucket IN (SELECT DISTINCT bucket FROM rollup_pending "
                    "WHERE bucket <= :upto ORDER BY bucket LIMIT :n) RETURNING bucket, received_at"
                ),
                {"upto": to_us(now) - MINUTE_US - GRACE_US, "n": MINUTES_PER_TRANSACTION},
            ).all()
            minutes: dict[int, set[int]] = {}
            for bucket, received in taken:
                minutes.setdefault(bucket, set()).add(received)
            hot = self.hot_from_us(now)
            # A minute after the newest one ever compacted has no segment: its rollups come from the rows
            # the compaction moves (one statement, one read and sort). One up to it may have segments that
            # get no new rows (late data of another series, a migration that compacted): read them all.
            horizon = (
                conn.exec_driver_sql("SELECT bucket FROM segment_horizon").scalar_one()
                if self.postgres
                else 0
            )
            for bucket in sorted(minutes):
                if bucket >= hot and self.postgres and bucket > horizon:
                    compact(conn, bucket, also=_ROLLUP_SORTED)
                elif bucket >= hot:
                    conn.execute(text(self._replace), {"b": bucket})
                    if self.postgres:
                        compact(conn, bucket)
                else:
                    self._merge(conn, bucket, sorted(minutes[bucket]))
        return len(minutes)

    def _merge(self, conn: Connection, bucket: int, received: list[int]) -> None:
        names = ", ".join(f":r{i}" for i in range(len(received)))
        sql = (
            _INSERT
            + self._aggregates.format(samples=self._samples, received=f"AND received_at IN ({names})")
            + _MERGE
        )
        log.info("late samples merged into an older rollup", extra={"bucket": bucket})
        conn.execute(text(sql), {"b": bucket} | {f"r{i}": r for i, r in enumerate(received)})
