"""Backup and restore of a whole GridOS database, the same on SQLite and PostgreSQL (and across them).

A backup is a directory: one Parquet file per table (devices, alarm rules and their audit, alarms and
their journal, the notification outbox, samples, latest values, rollups, the cold-tier catalog) and a
`manifest.json` with the schema revision, row counts and the SHA-256 of every file. All tables are read in
one transaction (PostgreSQL REPEATABLE READ, SQLite's WAL snapshot), so the backup is a consistent point
in time of a running service. The cold tier's Parquet files are not copied: they are immutable, live in
their own storage (soft delete, lifecycle) and the restored catalog points at them again.
"""

# SQL here is assembled from table/column names of this code base and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    TypeDecorator,
    select,
    text,
)

import gridos.alarms.tables  # registers the alarm tables on the shared MetaData
import gridos.archive.tables  # registers the catalog
import gridos.identity.models  # noqa: F401 - registers the API keys and the audit log
from gridos.db.migrate import current_revision
from gridos.db.tables import metadata, rollups_1m, series, series_samples
from gridos.telemetry.segments import SEGMENT_POINTS

BATCH = 50_000
MANIFEST = "manifest.json"
LEGACY_SAMPLES = "samples"


class BackupError(Exception):
    pass


def _arrow_type(column: Any) -> pa.DataType:
    t = column.type
    # A TypeDecorator (e.g. UtcDateTime) stores what its implementation type stores.
    t = getattr(t, "impl_instance", t) if isinstance(t, TypeDecorator) else t
    if isinstance(t, JSON):
        return pa.string()
    if isinstance(t, Boolean):
        return pa.bool_()
    if isinstance(t, SmallInteger | Integer | BigInteger):
        return pa.int64()
    if isinstance(t, Float):
        return pa.float64()
    if isinstance(t, DateTime):
        return pa.timestamp("us", tz="UTC")
    if isinstance(t, Date):
        return pa.date32()
    return pa.string()


def _tables(engine: Engine) -> list[Table]:
    """The tables of the code's schema that the database holds. A table whose columns differ (a database
    at an older revision, e.g. rollups by name before 0007) is taken as the database has it: restore
    converts what it knows."""
    with engine.connect() as conn:
        existing = set(conn.dialect.get_table_names(conn))
        tables = []
        for t in metadata.sorted_tables:
            if t.name not in existing:
                continue
            columns = [c["name"] for c in conn.dialect.get_columns(conn, t.name)]
            tables.append(
                t if set(columns) == set(t.columns.keys()) else Table(t.name, MetaData(), autoload_with=conn)
            )
    return tables


def backup(engine: Engine, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise BackupError(f"{out} is not empty")
    revision = current_revision(engine)
    manifest: dict[str, Any] = {
        "format": "gridos-backup/1",
        "created_at": datetime.now(UTC).isoformat(),
        "source": engine.dialect.name,
        "revision": revision,
        "tables": {},
    }
    tables = _tables(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        else:
            conn.exec_driver_sql("SELECT 1")  # the first read opens SQLite's snapshot for the transaction
        for table in tables:
            manifest["tables"][table.name] = _dump(conn, table, out / f"{table.name}.parquet")
        conn.rollback()
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return manifest


def _dump(conn: Any, table: Table, path: Path) -> dict:
    schema = pa.schema([pa.field(c.name, _arrow_type(c)) for c in table.columns])
    pk = [c for c in table.primary_key.columns] or list(table.columns)
    query: Any = table.select().order_by(*pk)
    if table is series_samples and _has_segments(conn):
        # Compacted minutes are in `series_segments`: a backup holds every sample as a raw row, so it
        # restores anywhere (SQLite too); a restored minute stays raw.
        query = text(
            f"SELECT series_id, quality, ts, value, received_at FROM (SELECT * FROM series_samples "
            f"UNION ALL {SEGMENT_POINTS}) p ORDER BY series_id, ts"
        )
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(query)
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for chunk in result.partitions(BATCH):
            columns = []
            for i, column in enumerate(table.columns):
                values = [r[i] for r in chunk]
                if isinstance(column.type, JSON):
                    values = [None if v is None else json.dumps(v, sort_keys=True) for v in values]
                columns.append(pa.array(values, type=schema.field(i).type))
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
            rows += len(chunk)
    return {"rows": rows, "sha256": _sha256(path)}


def _has_segments(conn: Any) -> bool:
    """PostgreSQL from migration 0008 on (SQLite keeps raw rows only)."""
    return conn.dialect.name == "postgresql" and bool(conn.dialect.has_table(conn, "series_segments"))


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def restore(engine: Engine, src: Path, force: bool = False) -> dict:
    """Load a backup into a migrated database. Refuses a database that already holds data unless
    `force` (then every table of the backup is emptied first, in one transaction with the load)."""
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{src} has no {MANIFEST}: not a GridOS backup") from None
    if manifest.get("format") != "gridos-backup/1":
        raise BackupError(f"{src}: unknown backup format {manifest.get('format')!r}")
    known = {t.name: t for t in _tables(engine)}
    # A backup from before migration 0006 holds raw samples by name in `samples` (now a view): they are
    # loaded into `series` and `series_samples`.
    legacy = LEGACY_SAMPLES in manifest["tables"] and "series_samples" in known
    missing = [
        name for name in manifest["tables"] if name not in known and not (legacy and name == LEGACY_SAMPLES)
    ]
    if missing:
        raise BackupError(
            f"the target database has no table(s) {', '.join(missing)}: run `gridos migrate` first"
        )
    for name, info in manifest["tables"].items():
        if _sha256(src / f"{name}.parquet") != info["sha256"]:
            raise BackupError(f"{name}.parquet: checksum differs from the manifest; the backup is damaged")
    # A backup from before migration 0007 holds rollups by name: they are loaded by series id.
    legacy_rollups = (
        "rollups_1m" in manifest["tables"] and "device_id" in pq.read_schema(src / "rollups_1m.parquet").names
    )
    order = [t for t in metadata.sorted_tables if t.name in manifest["tables"]]
    # Every table the restore writes: with a legacy backup, also the two that its `samples` fill.
    targets = order + ([series, series_samples] if legacy else [])
    if engine.dialect.name == "postgresql":
        from gridos.clock import DAY_US, day_of_us
        from gridos.telemetry.store import SampleStore

        raw = (
            "series_samples" if "series_samples" in manifest["tables"] else LEGACY_SAMPLES if legacy else None
        )
        if raw:
            ts = pq.read_table(src / f"{raw}.parquet", columns=["ts"]).column("ts")
            day_numbers = pc.unique(pc.floor(pc.divide(pc.cast(ts, pa.float64()), float(DAY_US))))
            SampleStore(engine).ensure_partitions(
                {day_of_us(int(d) * DAY_US) for d in day_numbers.to_pylist()}
            )
    counts = {}
    with engine.begin() as conn:
        for table in targets:
            existing = conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar()
            if existing and not force:
                raise BackupError(
                    f"table {table.name} already holds {existing} rows (use --force to replace)"
                )
        if series_samples in targets and _has_segments(conn):
            # The compacted samples go with the raw ones (the backup holds both as raw rows).
            if conn.execute(text("SELECT 1 FROM series_segments LIMIT 1")).first() and not force:
                raise BackupError("table series_segments already holds rows (use --force to replace)")
            conn.execute(text("DELETE FROM series_segments"))
        for table in reversed(targets):
            conn.execute(table.delete())
        for table in order:
            if table is not rollups_1m or not legacy_rollups:
                counts[table.name] = _load(conn, table, src / f"{table.name}.parquet")
        if legacy:
            counts[LEGACY_SAMPLES] = _load_legacy_samples(conn, src / f"{LEGACY_SAMPLES}.parquet")
        if legacy_rollups:
            counts["rollups_1m"] = _load_legacy_rollups(conn, src / "rollups_1m.parquet")
        for name, count in counts.items():
            if count != manifest["tables"][name]["rows"]:
                raise BackupError(
                    f"{name}: loaded {count} rows, manifest says {manifest['tables'][name]['rows']}"
                )
        if engine.dialect.name == "postgresql":
            for table in targets:
                for column in table.primary_key.columns:
                    if column.autoincrement is True or (
                        isinstance(column.type, Integer) and len(table.primary_key.columns) == 1
                    ):
                        conn.exec_driver_sql(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                            f"coalesce((SELECT max({column.name}) FROM {table.name}), 0) + 1, false) "
                            f"WHERE pg_get_serial_sequence('{table.name}', '{column.name}') IS NOT NULL"
                        )
    return {"restored": counts, "revision": manifest.get("revision")}


def _series_ids(conn: Any, keys: set[tuple[str, str]], ids: dict[tuple[str, str], int]) -> None:
    """Complete `ids` (device, measurement) -> series id for `keys`, registering the series not known."""
    if keys - ids.keys():
        ids.update(
            {
                (d, m): sid
                for sid, d, m in conn.execute(select(series.c.id, series.c.device_id, series.c.measurement))
            }
        )
    new = keys - ids.keys()
    if new:
        conn.execute(series.insert(), [{"device_id": d, "measurement": m} for d, m in sorted(new)])
        found = conn.execute(select(series.c.id, series.c.device_id, series.c.measurement))
        ids.update({(d, m): sid for sid, d, m in found})


def _load_legacy_samples(conn: Any, path: Path) -> int:
    """Rows (device_id, measurement, ts, value, quality, received_at) of a pre-0006 backup -> a series id
    for each (device, measurement) pair, and the samples by that id."""
    ids: dict[tuple[str, str], int] = {}
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5_000):
        rows = batch.to_pylist()
        _series_ids(conn, {(r["device_id"], r["measurement"]) for r in rows}, ids)
        conn.execute(
            series_samples.insert(),
            [
                {
                    "series_id": ids[(r["device_id"], r["measurement"])],
                    "quality": r["quality"],
                    "ts": r["ts"],
                    "value": r["value"],
                    "received_at": r["received_at"],
                }
                for r in rows
            ],
        )
        n += len(rows)
    return n


def _load_legacy_rollups(conn: Any, path: Path) -> int:
    """Rollups of a pre-0007 backup, kept by device and measurement -> the same rollups by series id."""
    ids: dict[tuple[str, str], int] = {}
    n = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=5_000):
        rows = batch.to_pylist()
        _series_ids(conn, {(r["device_id"], r["measurement"]) for r in rows}, ids)
        for r in rows:
            r["series_id"] = ids[(r.pop("device_id"), r.pop("measurement"))]
        conn.execute(rollups_1m.insert(), rows)
        n += len(rows)
    return n


def _load(conn: Any, table: Table, path: Path) -> int:
    parquet = pq.ParquetFile(path)
    json_cols = {c.name for c in table.columns if isinstance(c.type, JSON)}
    n = 0
    for batch in parquet.iter_batches(batch_size=5_000):
        rows = batch.to_pylist()
        if not rows:
            continue
        for row in rows:
            for name in json_cols:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
        conn.execute(table.insert(), rows)
        n += len(rows)
    return n
