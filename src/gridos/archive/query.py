"""Answering history from the cold tier: catalog pruning by day and site, DuckDB over the Parquet files
(row-group statistics prune by series and time), merged with whatever the hot tier still holds.

TelemetryService.series asks `ColdTier.answers(...)` first; when the range touches no archived day (or
the 1-minute rollups still cover it) the hot path answers exactly as before.
"""

# SQL here is assembled from table/column names of this code base and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
from sqlalchemy import Engine, func, select, text

from gridos.archive.storage import ArchiveError, ArchiveStorage
from gridos.archive.tables import ACTIVE, archive_files
from gridos.clock import DAY_US, day_of_us, day_start_us
from gridos.db.tables import devices, series
from gridos.errors import ServiceUnavailable
from gridos.telemetry.rollups import RollupJob, rollup_buckets
from gridos.telemetry.samples import INVALID
from gridos.telemetry.segments import points

log = logging.getLogger("gridos.archive")

MINUTE_US = 60_000_000
# (bucket, min, max, sum, count, last, last_ts)
Partial = tuple[int, float, float, float, int, float, int]


class ColdTier:
    def __init__(
        self,
        engine: Engine,
        storage: ArchiveStorage,
        rollup_retention_days: int,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
        rollups: RollupJob | None = None,
    ) -> None:
        self.engine = engine
        # Tells which pending minutes the hot rows hold whole; without it every pending minute does.
        self.rollups = rollups
        self.storage = storage
        self.rollup_retention_days = rollup_retention_days
        self.today = today
        self._local = threading.local()

    def _duck(self) -> duckdb.DuckDBPyConnection:
        con = getattr(self._local, "con", None)
        if con is None:
            # Files are immutable (a new generation gets a new name), so their footers can be cached for
            # the life of the connection: a one-year query then skips parsing 365+ footers each time.
            con = duckdb.connect(config={"threads": 2})
            con.execute("SET parquet_metadata_cache = true")
            self._local.con = con
        return con

    # -- catalog ----------------------------------------------------------------------------------
    def files(self, device_id: str, s_us: int, e_us: int) -> list[str]:
        """Local paths of the active files of the device's site overlapping [s, e)."""
        with self.engine.connect() as conn:
            site = conn.execute(select(devices.c.site).where(devices.c.id == device_id)).scalar()
            rows = conn.execute(
                select(archive_files.c.path, archive_files.c.sha256).where(
                    archive_files.c.state == ACTIVE,
                    archive_files.c.site.in_([site or "", "_unregistered"]),
                    archive_files.c.day >= day_of_us(s_us),
                    archive_files.c.day <= day_of_us(e_us - 1),
                    archive_files.c.min_ts < e_us,
                    archive_files.c.max_ts >= s_us,
                )
            ).all()
        return [str(self.storage.local_copy(r.path, r.sha256)) for r in rows]

    def rollup_cutoff_us(self) -> int:
        return day_start_us(self.today() - timedelta(days=self.rollup_retention_days))

    def archived_until_us(self) -> int:
        """The end of the newest archived day (0 when nothing is archived): days are archived oldest
        first, and their rollups are dropped with their hot rows."""
        with self.engine.connect() as conn:
            newest = conn.execute(
                select(func.max(archive_files.c.day)).where(archive_files.c.state == ACTIVE)
            ).scalar()
        return day_start_us(newest + timedelta(days=1)) if newest else 0

    # -- the seam ---------------------------------------------------------------------------------
    def series(
        self, device_id: str, measurement: str, s_us: int, e_us: int, step_us: int | None, limit: int
    ) -> tuple[str, list[tuple[int, float, int]] | list[Partial]] | None:
        """None when the hot tier answers alone; else (source, rows): raw (ts, value, quality) rows
        (limit + 1 at most, so the caller can flag truncation) or bucket partials. Storage failures are
        503s: the data is intact, only unreachable."""
        try:
            return self._series(device_id, measurement, s_us, e_us, step_us, limit)
        except (ArchiveError, duckdb.IOException, OSError) as exc:
            log.warning("cold tier unavailable", extra={"error": str(exc)[:300]})
            raise ServiceUnavailable(f"the archive holding this range is unavailable: {exc}") from None

    def _series(
        self, device_id: str, measurement: str, s_us: int, e_us: int, step_us: int | None, limit: int
    ) -> tuple[str, list[tuple[int, float, int]] | list[Partial]] | None:
        if step_us is not None and step_us % MINUTE_US == 0:
            # Rollups answer whole-minute steps for the days still hot; archived days (their rollups left
            # with their hot rows) and days past the rollups' retention come from the Parquet files, plus
            # any hot rows of those days (late samples the next archive run will take).
            cutoff = max(self.rollup_cutoff_us(), self.archived_until_us())
            aligned = s_us - s_us % MINUTE_US
            if aligned >= cutoff:
                return None
            upto = min(e_us, cutoff)
            files = self.files(device_id, aligned, upto)
            if not files:
                return None
            late = self._hot_rows(device_id, measurement, aligned, upto, None)
            cold = self._buckets(files, late, device_id, measurement, aligned, upto, step_us)
            hot = (
                self._rollup_partials(device_id, measurement, max(aligned, cutoff), e_us, step_us)
                if e_us > cutoff
                else []
            )
            return "rollup_1m", _merge_partials(cold + hot)
        files = self.files(device_id, s_us, e_us)
        if not files:
            return None
        # Raw answers need at most the first limit + 1 hot rows: any later one sorts after limit + 1
        # distinct timestamps already present in the union.
        hot_rows = self._hot_rows(device_id, measurement, s_us, e_us, limit + 1 if step_us is None else None)
        if step_us is None:
            return "raw", self._raw(files, hot_rows, device_id, measurement, s_us, e_us, limit)
        return "raw", self._buckets(files, hot_rows, device_id, measurement, s_us, e_us, step_us)

    # -- reads ------------------------------------------------------------------------------------
    def _hot_rows(
        self, device_id: str, measurement: str, s_us: int, e_us: int, limit: int | None
    ) -> pa.Table:
        sid = "series_id = (SELECT id FROM series WHERE device_id = :d AND measurement = :m)"
        rows_of = points(self.engine.dialect.name == "postgresql", ":s", ":e", sid)
        sql = f"SELECT ts, value, quality FROM {rows_of} p WHERE {sid} AND ts >= :s AND ts < :e"
        params: dict[str, object] = {"d": device_id, "m": measurement, "s": s_us, "e": e_us}
        if limit is not None:
            sql += " ORDER BY ts LIMIT :n"
            params["n"] = limit
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), params).all()
        return pa.table(
            {
                "ts": pa.array([r[0] for r in rows], pa.int64()),
                "value": pa.array([r[1] for r in rows], pa.float64()),
                "quality": pa.array([r[2] for r in rows], pa.int8()),
            }
        )

    def _union_sql(self, with_hot: bool) -> str:
        # Cold rows first; a hot row only where the archive has none with that timestamp (the archived
        # copy is the first write, as ON CONFLICT DO NOTHING kept it in the hot tier).
        cold = (
            "SELECT epoch_us(ts) AS ts, value, quality FROM read_parquet($files) "
            "WHERE device_id = $d AND measurement = $m "
            "AND ts >= make_timestamp($s::BIGINT)::TIMESTAMPTZ AND ts < make_timestamp($e::BIGINT)::TIMESTAMPTZ"
        )
        if not with_hot:
            return f"WITH u AS ({cold})"
        return f"WITH c AS ({cold}), u AS (SELECT * FROM c UNION ALL SELECT h.* FROM hot h ANTI JOIN c USING (ts))"

    def _params(self, files: list[str], device_id: str, measurement: str, s_us: int, e_us: int) -> dict:
        return {"files": files, "d": device_id, "m": measurement, "s": s_us, "e": e_us}

    def _raw(
        self,
        files: list[str],
        hot: pa.Table,
        device_id: str,
        measurement: str,
        s_us: int,
        e_us: int,
        limit: int,
    ) -> list[tuple[int, float, int]]:
        con = self._duck()
        con.register("hot", hot)
        try:
            sql = (
                f"{self._union_sql(True)} SELECT ts, value, quality FROM u ORDER BY ts LIMIT {int(limit) + 1}"
            )
            return [
                tuple(r)
                for r in con.execute(sql, self._params(files, device_id, measurement, s_us, e_us)).fetchall()
            ]
        finally:
            con.unregister("hot")

    def _buckets(
        self,
        files: list[str],
        hot: pa.Table | None,
        device_id: str,
        measurement: str,
        s_us: int,
        e_us: int,
        step_us: int,
    ) -> list[Partial]:
        con = self._duck()
        if hot is not None:
            con.register("hot", hot)
        try:
            sql = (
                f"{self._union_sql(hot is not None)} SELECT ts - ts % $step AS b, min(value), max(value), "
                f"sum(value), count(*), arg_max(value, ts), max(ts) FROM u WHERE quality < {INVALID} "
                "GROUP BY b ORDER BY b"
            )
            params = self._params(files, device_id, measurement, s_us, e_us) | {"step": step_us}
            return [tuple(r) for r in con.execute(sql, params).fetchall()]
        finally:
            if hot is not None:
                con.unregister("hot")

    def _rollup_partials(
        self, device_id: str, measurement: str, s_us: int, e_us: int, step_us: int
    ) -> list[Partial]:
        hot = self.rollups.hot_from_us(datetime.now(UTC)) if self.rollups else 0
        with self.engine.connect() as conn:
            sid = conn.execute(
                select(series.c.id).where(
                    series.c.device_id == device_id, series.c.measurement == measurement
                )
            ).scalar()
            rows = conn.execute(
                text(rollup_buckets(self.engine.dialect.name == "postgresql")),
                {"sid": sid, "s": s_us, "e": e_us, "step": step_us, "hot": hot},
            ).all()
        return [tuple(r) for r in rows]


def _merge_partials(parts: list[Partial]) -> list[Partial]:
    """Combine partial aggregates of the same bucket (a bucket straddling the rollup cutoff)."""
    merged: dict[int, list] = {}
    for b, mn, mx, sm, cnt, last, lts in parts:
        m = merged.get(b)
        if m is None:
            merged[b] = [b, mn, mx, sm, int(cnt), last, lts]
            continue
        m[1], m[2], m[3], m[4] = min(m[1], mn), max(m[2], mx), m[3] + sm, m[4] + int(cnt)
        if lts >= m[6]:
            m[5], m[6] = last, lts
    return [tuple(v) for _, v in sorted(merged.items())]


__all__ = ["DAY_US", "ColdTier"]
