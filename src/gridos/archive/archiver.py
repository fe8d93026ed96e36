"""Moving closed days from PostgreSQL/SQLite to Parquet: the crash-safe protocol.

For each UTC day older than GRIDOS_ARCHIVE_AFTER_DAYS that still has hot samples, per site:

1. read the day's hot rows (and, if the day was archived before, the catalogued file: late rows are
   merged in, the file's rows win on a key both hold, as the first write did in the hot tier);
2. encode Parquet, store it under the next generation's name, read it back and compare its SHA-256 and
   row count;
3. in one transaction: record the new file as `active`, mark the previous generation `superseded`;
4. delete superseded files, then their catalog rows;
5. delete the day's hot rows, only if their count is still the count that was archived.

A crash between any two steps leaves a state the next run finishes: before 3 the hot rows are intact
and the same generation name is rewritten; after 3 queries read the catalogued file (hot rows of a
catalogued day are deduplicated against it) and the rerun finds nothing new to write and only deletes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, func, insert, select, update

from gridos.archive import hot, parquet
from gridos.archive.config import ArchiveSettings
from gridos.archive.storage import ArchiveError, ArchiveStorage, sha256_hex
from gridos.archive.tables import ACTIVE, SUPERSEDED, archive_files
from gridos.clock import now_us
from gridos.db import locks

log = logging.getLogger("gridos.archive")


@dataclass
class ArchiveReport:
    days: list[str] = field(default_factory=list)
    files: int = 0
    rows: int = 0
    bytes: int = 0
    hot_deleted_days: list[str] = field(default_factory=list)
    deferred_days: list[str] = field(default_factory=list)
    expired_files: int = 0
    seconds: float = 0.0
    skipped: str | None = None

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class Archiver:
    def __init__(
        self,
        engine: Engine,
        storage: ArchiveStorage,
        settings: ArchiveSettings,
        roll_up: Callable[[], object] | None = None,
    ) -> None:
        self.engine = engine
        self.storage = storage
        self.settings = settings
        # The rollup job (gridos.telemetry.rollups): a day's hot rows leave only once its minutes are
        # rolled up, so each run rolls up first instead of deferring the day to the next one.
        self.roll_up = roll_up

    def cutoff(self, now: datetime) -> date:
        """Days strictly before this one are closed and old enough to archive."""
        return now.astimezone(UTC).date() - timedelta(days=self.settings.after_days)

    def run(self, now: datetime | None = None, only_day: date | None = None) -> ArchiveReport:
        now = now or datetime.now(UTC)
        started = time.perf_counter()
        report = ArchiveReport()
        with self.engine.connect() as lock_conn:
            # A CronJob and the service's schedule may overlap: one archiver at a time per database.
            if (
                self.engine.dialect.name == "postgresql"
                and not lock_conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({locks.ARCHIVE})").scalar()
            ):
                report.skipped = "another archiver holds the lock"
                return report
            try:
                if self.roll_up is not None:
                    self.roll_up()
                self._remove_superseded()
                days = hot.days_with_samples(self.engine, self.cutoff(now))
                for day in days if only_day is None else [d for d in days if d == only_day]:
                    self.archive_day(day, report)
                report.expired_files = self._expire(now)
            finally:
                if self.engine.dialect.name == "postgresql":
                    lock_conn.exec_driver_sql(f"SELECT pg_advisory_unlock({locks.ARCHIVE})")
                    lock_conn.commit()
        report.seconds = round(time.perf_counter() - started, 3)
        return report

    def archive_day(self, day: date, report: ArchiveReport) -> None:
        hot_rows = 0
        pending: list[dict] = []
        for site, rows in hot.read_day(self.engine, day):
            hot_rows += rows.num_rows
            entry = self._write_site(day, site, rows)
            if entry is not None:
                pending.append(entry)
        if pending:
            with self.engine.begin() as conn:
                for entry in pending:  # step 3: one transaction for the whole day
                    conn.execute(
                        update(archive_files)
                        .where(
                            archive_files.c.day == day,
                            archive_files.c.site == entry["site"],
                            archive_files.c.state == ACTIVE,
                        )
                        .values(state=SUPERSEDED)
                    )
                    conn.execute(insert(archive_files).values(**entry))
            log.info(
                "archive step", extra={"step": "catalogued", "day": day.isoformat(), "files": len(pending)}
            )
            self._remove_superseded()
            report.files += len(pending)
            report.rows += sum(e["rows"] for e in pending)
            report.bytes += sum(e["bytes"] for e in pending)
        report.days.append(day.isoformat())
        if hot.delete_day(self.engine, day, hot_rows):
            report.hot_deleted_days.append(day.isoformat())
            log.info("archive step", extra={"step": "hot_deleted", "day": day.isoformat(), "rows": hot_rows})
        else:
            report.deferred_days.append(day.isoformat())
            log.info(
                "late samples arrived while archiving, or minutes not rolled up yet; the day is finished on "
                "the next run",
                extra={"day": day.isoformat()},
            )

    def _write_site(self, day: date, site: str, rows: pa.Table) -> dict | None:
        """Write the next generation of (day, site) if the hot rows add anything; returns its catalog row."""
        with self.engine.connect() as conn:
            active = conn.execute(
                select(archive_files).where(
                    archive_files.c.day == day, archive_files.c.site == site, archive_files.c.state == ACTIVE
                )
            ).first()
            generation = conn.execute(
                select(func.coalesce(func.max(archive_files.c.generation), 0)).where(
                    archive_files.c.day == day, archive_files.c.site == site
                )
            ).scalar_one()
        table = parquet.normalise(rows)
        if active is not None:
            data = self.storage.get(active.path)
            if sha256_hex(data) != active.sha256:
                raise ArchiveError(f"{active.path}: checksum differs from the catalog; not merging into it")
            cold = parquet.decode(data)
            table = _merge(cold, table)
            if table.num_rows == cold.num_rows:
                return None  # every hot row is already archived (a rerun after step 3)
        data = parquet.encode(table, self.settings.row_group_rows)
        path = parquet.file_path(day, site, generation + 1)
        digest = sha256_hex(data)
        self.storage.put(path, data)
        back = self.storage.get(path)
        if sha256_hex(back) != digest or parquet.row_count(back) != table.num_rows:
            raise ArchiveError(f"{path}: read-back verification failed; hot rows kept")
        log.info("archive step", extra={"step": "written", "path": path, "rows": table.num_rows})
        ts = table.column("ts").cast(pa.int64())
        return {
            "day": day,
            "site": site,
            "generation": generation + 1,
            "path": path,
            "rows": table.num_rows,
            "bytes": len(data),
            "sha256": digest,
            "min_ts": pc.min(ts).as_py(),
            "max_ts": pc.max(ts).as_py(),
            "state": ACTIVE,
            "created_us": now_us(),
        }

    def _remove_superseded(self) -> None:
        with self.engine.connect() as conn:
            old = conn.execute(
                select(archive_files.c.id, archive_files.c.path).where(archive_files.c.state == SUPERSEDED)
            ).all()
        for row in old:
            self.storage.delete(row.path)
            with self.engine.begin() as conn:
                conn.execute(archive_files.delete().where(archive_files.c.id == row.id))

    def _expire(self, now: datetime) -> int:
        """Cold retention: days older than GRIDOS_ARCHIVE_COLD_RETENTION_DAYS leave the catalog first
        (queries stop reading them), then storage."""
        if not self.settings.cold_retention_days:
            return 0
        oldest = now.astimezone(UTC).date() - timedelta(days=self.settings.cold_retention_days)
        with self.engine.begin() as conn:
            n = conn.execute(
                update(archive_files)
                .where(archive_files.c.day < oldest, archive_files.c.state == ACTIVE)
                .values(state=SUPERSEDED)
            ).rowcount
        self._remove_superseded()
        return int(n or 0)

    def verify(self) -> list[str]:
        """Re-read every active file and compare it with the catalog; returns the problems found."""
        problems = []
        with self.engine.connect() as conn:
            files = conn.execute(select(archive_files).where(archive_files.c.state == ACTIVE)).all()
        for f in files:
            try:
                data = self.storage.get(f.path)
            except ArchiveError as exc:
                problems.append(str(exc))
                continue
            if sha256_hex(data) != f.sha256:
                problems.append(f"{f.path}: checksum differs from the catalog")
            elif parquet.row_count(data) != f.rows:
                problems.append(f"{f.path}: {parquet.row_count(data)} rows, catalog says {f.rows}")
        return problems


def _merge(cold: pa.Table, hot_rows: pa.Table) -> pa.Table:
    """cold + the hot rows whose (device, measurement, ts) cold does not hold; sorted."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("cold", cold)
        con.register("hot_rows", hot_rows)
        new = con.sql(
            "SELECT h.* FROM hot_rows h ANTI JOIN cold c "
            "ON CAST(h.device_id AS VARCHAR) = CAST(c.device_id AS VARCHAR) "
            "AND CAST(h.measurement AS VARCHAR) = CAST(c.measurement AS VARCHAR) AND h.ts = c.ts"
        ).to_arrow_table()
    finally:
        con.close()
    if not new.num_rows:
        return cold
    return parquet.normalise(pa.concat_tables([cold, new.cast(parquet.SCHEMA)], promote_options="permissive"))
