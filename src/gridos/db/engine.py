"""Engine creation for both backends: PostgreSQL (production) and the embedded SQLite default."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event

from gridos.config import Settings


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the single writer; FULL makes a 2xx survive power loss, not only kill -9.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(settings: Settings) -> Engine:
    url = settings.sqlalchemy_url
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "gridos"},
    )


def pool_stats(engine: Engine) -> dict[str, float]:
    pool: Any = engine.pool
    stats = {"size": 0.0, "checked_out": 0.0, "overflow": 0.0}
    for key, attr in (("size", "size"), ("checked_out", "checkedout"), ("overflow", "overflow")):
        fn = getattr(pool, attr, None)
        if callable(fn):
            stats[key] = float(fn())
    return stats
