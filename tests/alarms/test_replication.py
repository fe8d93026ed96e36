"""The replication listener (gridos.alarms.replication) syncs as soon as another replica commits a
transition, and not for this process's own commits, which are in its cache and on its streams already
(a sync for each would compete with the next sample for the database and the GIL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine

from gridos.alarms.config import AlarmSettings
from gridos.alarms.replication import Replication
from gridos.alarms.unit_of_work import ORIGIN
from tests.support.postgres import PostgresServer
from tests.support.wait import eventually


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database(template=postgres.template)  # type: ignore[attr-defined]
    yield postgres.url(name)
    postgres.drop_database(name)


def test_listener_syncs_for_other_replicas_commits_only(pg_url: str) -> None:
    engine = create_engine(pg_url)
    replication = Replication(AlarmSettings(sync_seconds=600), engine, None, None)  # type: ignore[arg-type]
    syncs: list[float] = []
    replication.sync = lambda: syncs.append(time.monotonic()) or 0  # type: ignore[method-assign]
    stop = threading.Event()
    listener = threading.Thread(target=replication.listen, args=(stop,), daemon=True)
    listener.start()
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:

            def notify(payload: str) -> None:
                conn.execute("SELECT pg_notify('gridos_alarms', %s)", (payload,))

            # Another replica's commit: synced (sent until the listener is listening).
            eventually(lambda: notify("another-replica") or syncs, timeout=30, what="a sync", interval=0.2)
            time.sleep(1.0)  # a notification sent while the first sync ran is synced for too
            syncs.clear()
            for _ in range(5):
                notify(ORIGIN)
            time.sleep(1.0)
            assert syncs == [], "the listener synced for this process's own commits"
            notify("another-replica")
            eventually(lambda: syncs, timeout=10, what="a sync for another replica's commit")
    finally:
        stop.set()
        with psycopg.connect(dsn, autocommit=True) as conn:  # wakes the listener to see `stop`
            conn.execute("SELECT pg_notify('gridos_alarms', 'stop')")
        listener.join(15)
        engine.dispose()
    assert not listener.is_alive()
