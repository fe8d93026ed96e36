"""PostgreSQL storage layout: daily range partitions created ahead, retention drops whole partitions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from gridos.app import create_app
from gridos.config import Settings
from gridos.telemetry.rollups import RollupJob
from gridos.telemetry.segments import points
from gridos.telemetry.store import SampleStore
from tests.support.clock import past
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.postgres


@pytest.fixture
def store(postgres: PostgresServer):  # type: ignore[no-untyped-def]
    name = postgres.create_database(template=postgres.template)  # type: ignore[attr-defined]
    engine = create_engine(postgres.url(name))
    yield SampleStore(engine)
    engine.dispose()
    postgres.drop_database(name)


def test_partitions_created_ahead_and_dropped_for_retention(store: SampleStore) -> None:
    # An injected clock: noon, three days ago (maintain takes `now`; nothing here reads the wall clock).
    midnight = past(days=3, align=timedelta(days=1))
    now = midnight + timedelta(hours=12)
    store.maintain(now, retention_days=3, rollup_retention_days=10, ahead_days=2)
    days = store.partitions()
    first = (midnight - timedelta(days=3)).date()
    assert days == [first + timedelta(days=i) for i in range(6)]
    day = lambda n: int((midnight + timedelta(days=n, hours=6)).timestamp() * 1e6)  # noqa: E731
    stored = store.write(
        [("a", "voltage", day(-3), 1.0, 0, day(-3)), ("a", "voltage", day(0), 2.0, 0, day(0))]
    )
    assert stored == 2
    # The rollup job writes their minutes (ingest only marks them).
    RollupJob(Settings(), store.engine, store.sqlite_write_lock).run()
    # A day later the oldest partition leaves the window: dropped whole, the rest untouched.
    result = store.maintain(now + timedelta(days=1), retention_days=3, rollup_retention_days=10, ahead_days=2)
    assert result["dropped_partitions"] == [f"series_samples_p{first:%Y%m%d}"]
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM samples")).scalar_one() == 1
        # The job compacted both minutes; the dropped day's segments went with its partition.
        assert conn.execute(text("SELECT count(*) FROM series_segments")).scalar_one() == 1
        assert not conn.execute(text(f"SELECT to_regclass('series_segments_p{first:%Y%m%d}')")).scalar()
        # Rollups outlive raw data (their own retention).
        assert conn.execute(text("SELECT count(*) FROM rollups_1m")).scalar_one() == 2


def test_write_creates_a_missing_partition_on_demand(store: SampleStore) -> None:
    then = past(days=20, align=timedelta(days=1))
    ts = int(then.timestamp() * 1e6)
    assert store.write([("a", "current", ts, 5.0, 0, ts)]) == 1
    assert then.date() in store.partitions()


def test_query_plan_uses_primary_key_and_prunes_partitions(store: SampleStore) -> None:
    store.maintain(datetime.now(UTC), retention_days=5, rollup_retention_days=10, ahead_days=1)
    with store.engine.connect() as conn:
        plan = "\n".join(
            conn.execute(
                text(
                    "EXPLAIN SELECT ts, value FROM samples WHERE device_id = 'x' AND measurement = 'voltage' "
                    f"AND ts >= {int(datetime.now(UTC).timestamp() * 1e6) - 3_600_000_000} "
                    f"AND ts < {int(datetime.now(UTC).timestamp() * 1e6)}"
                )
            ).scalars()
        )
    assert "Index" in plan
    # Only today's partition, and yesterday's when the hour reaches back past midnight (each partition is
    # named twice in a plan: the index and the table, so count names, not mentions).
    assert 1 <= len(set(re.findall(r"series_samples_p\d{8}\b", plan))) <= 2, plan


def test_ingest_rejects_samples_older_than_retention(make_settings) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    settings: Settings = make_settings(retention_days=2)
    with TestClient(create_app(settings)) as c:
        admin = {
            "Authorization": f"Bearer {settings.api_tokens.get_secret_value().split(',')[0].split(':')[1]}"
        }
        c.put("/api/v1/devices/a", json={"type": "meter", "site": "s"}, headers=admin)
        old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
        r = c.post(
            "/api/v1/scada/data", json={"device_id": "a", "voltage": 1, "timestamp": old}, headers=admin
        )
    assert r.status_code == 422 and "retention" in r.json()["detail"]


def test_readers_of_segments_prune_partitions_and_use_the_key(store: SampleStore) -> None:
    store.maintain(datetime.now(UTC), retention_days=5, rollup_retention_days=10, ahead_days=1)
    now = int(datetime.now(UTC).timestamp() * 1e6)
    relation = points(True, str(now - 3_600_000_000), str(now), "series_id = 1")
    with store.engine.connect() as conn:
        plan = "\n".join(conn.execute(text(f"EXPLAIN SELECT ts, value FROM {relation} p")).scalars())
    assert "Index" in plan and "Seq Scan" not in plan, plan
    assert 1 <= len(set(re.findall(r"series_segments_p\d{8}\b", plan))) <= 2, plan
