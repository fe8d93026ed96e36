"""The Parquet layout of the cold tier: one schema, one encoder, one path scheme.

Files are sorted by series (device_id, measurement) then time, so every row group covers a narrow range
of series and the min/max statistics let DuckDB, Spark or Trino skip whatever a query does not ask for.
Times are TIMESTAMP(MICROS, UTC) so every engine reads them as instants without a conversion table;
device and measurement names are dictionary-encoded, times delta-encoded, everything ZSTD-compressed.
"""

from __future__ import annotations

import io
from datetime import date
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("device_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("measurement", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("ts", TS, nullable=False),
        pa.field("value", pa.float64(), nullable=False),
        pa.field("quality", pa.int8(), nullable=False),
        pa.field("received_at", TS, nullable=False),
    ]
)
SORT_KEYS = [("device_id", "ascending"), ("measurement", "ascending"), ("ts", "ascending")]
DATASET = "samples"


def day_prefix(day: date) -> str:
    return f"{DATASET}/day={day.isoformat()}"


def file_path(day: date, site: str, generation: int) -> str:
    """Hive-style partitions (`day=`, `site=`) that Spark, Synapse and DuckDB turn back into columns."""
    return f"{day_prefix(day)}/site={quote(site, safe='')}/part-g{generation:04d}.parquet"


def site_of(path: str) -> str:
    for part in path.split("/"):
        if part.startswith("site="):
            return unquote(part.removeprefix("site="))
    raise ValueError(f"no site= in {path}")


def normalise(table: pa.Table) -> pa.Table:
    """Any table with the six sample columns (ts/received_at as int64 µs or timestamps) -> SCHEMA, sorted."""
    columns = []
    for field in SCHEMA:
        col = table.column(field.name)
        if pa.types.is_integer(col.type) and pa.types.is_timestamp(field.type):
            col = col.cast(pa.int64()).cast(pa.timestamp("us")).cast(TS)
        elif pa.types.is_dictionary(field.type) and not pa.types.is_dictionary(col.type):
            col = col.cast(pa.string()).dictionary_encode()
        columns.append(col.cast(field.type))
    out = pa.Table.from_arrays(columns, schema=SCHEMA)
    # Sorting on the dictionary indices would order by first appearance, not by name.
    keys = pa.table(
        {
            "d": pc.cast(out["device_id"], pa.string()),
            "m": pc.cast(out["measurement"], pa.string()),
            "t": out["ts"],
        }
    )
    order = pc.sort_indices(keys, sort_keys=[("d", "ascending"), ("m", "ascending"), ("t", "ascending")])
    return out.take(order)


def encode(table: pa.Table, row_group_rows: int = 131_072) -> bytes:
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        compression="zstd",
        compression_level=3,
        use_dictionary=["device_id", "measurement", "value", "quality"],
        column_encoding={"ts": "DELTA_BINARY_PACKED", "received_at": "DELTA_BINARY_PACKED"},
        row_group_size=row_group_rows,
        write_statistics=True,
        write_page_index=True,
        sorting_columns=pq.SortingColumn.from_ordering(SCHEMA, SORT_KEYS),
    )
    return sink.getvalue()


def decode(data: bytes) -> pa.Table:
    return pq.read_table(pa.BufferReader(data), schema=SCHEMA)


def row_count(data: bytes) -> int:
    return int(pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows)
