"""Shared pieces of the benchmarks: a durable PostgreSQL (fsync on), GridOS processes, timing helpers."""

from __future__ import annotations

import statistics
from pathlib import Path

from sqlalchemy import create_engine

from gridos.db.migrate import upgrade
from tests.support.postgres import PostgresServer


def migrated_database(pg: PostgresServer) -> str:
    name = pg.create_database()
    engine = create_engine(pg.url(name))
    upgrade(engine)
    engine.dispose()
    return name


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.50) * 1000, 2),
        "p95_ms": round(percentile(values, 0.95) * 1000, 2),
        "p99_ms": round(percentile(values, 0.99) * 1000, 2),
        "mean_ms": round(statistics.fmean(values) * 1000, 2),
    }


def workdir(name: str) -> Path:
    path = Path("/tmp") / f"gridos-bench-{name}"
    path.mkdir(exist_ok=True)
    return path
