"""Every cross-process lock GridOS takes on its database, by name.

PostgreSQL advisory-lock keys share one key space with anything else using the database: GridOS's fixed
keys are 727xxx. Per-series locks (alarm points, alarm rules, outbox sinks) hash their names into the
whole signed 64-bit range (`series_key`). SQLite has no advisory locks: one writer at a time, taken with
`sqlite_write_lock` where a transaction must not read stale data.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Connection

MIGRATIONS = 727_001  # `gridos migrate` and start-up: one replica migrates at a time (transaction lock)
PARTITIONS = 727_002  # creating and dropping `samples` partitions (transaction lock)
ROLLUPS = 727_003  # the rollup job: one replica rolls up closed minutes at a time (transaction lock)
ARCHIVE = 727_015  # one archiver per database, CronJob or in-service schedule (session lock)
MODBUS_POLLING = 727_050  # the Modbus polling leader (session lock, ingest.leader)
IEC104_POLLING = 727_051  # the IEC 104 client leader (session lock, ingest.leader)


def series_key(*parts: str) -> int:
    """A stable signed 64-bit key per name (hash() differs per process), e.g. (device_id, measurement)."""
    digest = hashlib.blake2b("\x00".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def xact_lock(conn: Connection, key: int) -> None:
    """PostgreSQL: hold `key` until this transaction ends."""
    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({int(key)})")


def sqlite_write_lock(conn: Connection) -> None:
    """SQLite: take the database's write lock now, at the start of the transaction, so that what it reads
    next cannot go stale under another writer (pysqlite begins a transaction at the first write; a
    DELETE that matches nothing is that write). Any table will do: SQLite locks the whole database."""
    conn.exec_driver_sql("DELETE FROM alembic_version WHERE 0")
