"""`gridos export`: samples of a time range (hot and cold tiers merged, no duplicates) to one Parquet or
CSV file, sorted by device, measurement and time."""

# SQL here is assembled from table/column names of this code base and bound parameters, never input.
# ruff: noqa: S608

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
from sqlalchemy import Engine, select, text

from gridos.archive import parquet
from gridos.archive.storage import ArchiveStorage
from gridos.archive.tables import ACTIVE, archive_files
from gridos.clock import day_of_us


def export(
    engine: Engine,
    storage: ArchiveStorage | None,
    start_us: int,
    end_us: int,
    device_ids: list[str] | None,
    fmt: str,
    out: Path,
) -> int:
    params: dict = {"s": start_us, "e": end_us}
    where = "ts >= :s AND ts < :e"
    if device_ids:
        names = {f"d{i}": d for i, d in enumerate(device_ids)}
        where += f" AND device_id IN ({', '.join(':' + k for k in names)})"
        params |= names
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                f"SELECT device_id, measurement, ts, value, quality, received_at FROM samples WHERE {where}"
            ),
            params,
        ).all()
        files = (
            conn.execute(
                select(archive_files.c.path, archive_files.c.sha256).where(
                    archive_files.c.state == ACTIVE,
                    archive_files.c.day >= day_of_us(start_us),
                    archive_files.c.day <= day_of_us(end_us - 1),
                )
            ).all()
            if storage is not None
            else []
        )
    hot = parquet.normalise(
        pa.table(
            {
                name: pa.array([r[i] for r in rows], type=t)
                for i, (name, t) in enumerate(
                    [
                        ("device_id", pa.string()),
                        ("measurement", pa.string()),
                        ("ts", pa.int64()),
                        ("value", pa.float64()),
                        ("quality", pa.int8()),
                        ("received_at", pa.int64()),
                    ]
                )
            }
        )
    )
    con = duckdb.connect()
    try:
        con.register("hot", hot)
        cols = (
            "CAST(device_id AS VARCHAR) AS device_id, CAST(measurement AS VARCHAR) AS measurement, "
            "ts, value, quality, received_at"
        )
        hot_sql = f"SELECT {cols} FROM hot"
        if files:
            paths = [str(storage.local_copy(f.path, f.sha256)) for f in files]  # type: ignore[union-attr]
            con.execute("SET VARIABLE files = ?", [paths])
            filt = "ts >= make_timestamp($s::BIGINT)::TIMESTAMPTZ AND ts < make_timestamp($e::BIGINT)::TIMESTAMPTZ"
            if device_ids:
                filt += " AND device_id IN (SELECT unnest($devices))"
            union = (
                f"WITH c AS (SELECT {cols} FROM read_parquet(getvariable('files')) WHERE {filt}) "
                f"SELECT * FROM c UNION ALL SELECT h.* FROM ({hot_sql}) h "
                "ANTI JOIN c USING (device_id, measurement, ts)"
            )
            qparams: dict = {"s": start_us, "e": end_us} | ({"devices": device_ids} if device_ids else {})
        else:
            union, qparams = hot_sql, {}
        query = f"SELECT * FROM ({union}) ORDER BY device_id, measurement, ts"
        options = "(FORMAT parquet, COMPRESSION zstd)" if fmt == "parquet" else "(FORMAT csv, HEADER true)"
        target = str(out).replace("'", "''")
        if fmt == "csv":
            # Instants in CSV as ISO 8601 UTC, whatever the machine's zone.
            con.execute("SET TimeZone = 'UTC'")
        con.execute(f"COPY ({query}) TO '{target}' {options}", qparams)
        count = con.execute(f"SELECT count(*) FROM ({union})", qparams).fetchone()
        return int(count[0]) if count else 0
    finally:
        con.close()
