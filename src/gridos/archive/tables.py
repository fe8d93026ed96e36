"""The cold-tier catalog (SQLAlchemy Core) on the core MetaData; the DDL is migration
0005_archive_catalog.

One row per Parquet file. A (day, site) has exactly one `active` file; re-archiving a day that received
late samples writes the next generation and marks the previous one `superseded` in the same transaction,
so a reader that goes through the catalog never sees a sample twice.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, Index, Integer, String, Table, Text

from gridos.db.tables import metadata

archive_files = Table(
    "archive_files",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False),
    Column("site", String(64), nullable=False),
    Column("generation", Integer, nullable=False),
    Column("path", Text, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Index("uq_archive_files_path", "path", unique=True),
    Index("ix_archive_files_day", "day", "site"),
)

ACTIVE = "active"
SUPERSEDED = "superseded"
