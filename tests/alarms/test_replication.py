"""The replication listener (gridos.alarms.replication) syncs as soon as another replica commits a
transition, and not for this process's own commits, which are in its cache and on its streams already
(a sync for each would compete with the next sample for the database and the GIL)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from gridos.alarms.config import AlarmSettings
from gridos.alarms.replication import Replication
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.unit_of_work import ORIGIN
from gridos.app import create_app
from gridos.config import Settings
from tests.alarms.conftest import DEVICE, Feed
from tests.support.postgres import PostgresServer
from tests.support.tokens import Tokens
from tests.support.wait import eventually


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database(template=postgres.template)  # type: ignore[attr-defined]
    yield postgres.url(name)
    postgres.drop_database(name)


@contextlib.contextmanager
def listening(
    pg_url: str, broadcaster: TransitionBroadcaster | None = None
) -> Iterator[tuple[Callable[[str], None], list[float]]]:
    """The replication listener on its thread, its sync stubbed to record when it ran; yields a function
    sending a notification, and those times."""
    engine = create_engine(pg_url)
    replication = Replication(AlarmSettings(sync_seconds=600), engine, None, broadcaster)  # type: ignore[arg-type]
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

            yield notify, syncs
    finally:
        stop.set()
        with psycopg.connect(dsn, autocommit=True) as conn:  # wakes the listener to see `stop`
            conn.execute("SELECT pg_notify('gridos_alarms', 'stop')")
        listener.join(15)
        engine.dispose()
    assert not listener.is_alive()


def test_listener_syncs_for_other_replicas_commits_only(pg_url: str) -> None:
    with listening(pg_url) as (notify, syncs):
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


def test_listener_streams_the_transitions_a_notification_carries(pg_url: str) -> None:
    broadcaster = TransitionBroadcaster()
    broadcaster.subscribe()
    event = {"id": 4242, "alarm_id": 7, "action": "activate", "to_state": "active_unacked"}
    with listening(pg_url, broadcaster) as (notify, syncs):
        # Streamed from the payload itself (the sync here reads nothing), before the sync ran.
        eventually(
            lambda: notify(f"another-replica\n{json.dumps([event])}") or broadcaster.seen(4242),
            timeout=30,
            what="the carried transition on the streams",
            interval=0.2,
        )
        assert syncs, "a notification from another replica is synced for too (the cache)"
        # This process's own transitions are on its streams already: not streamed again from here.
        notify(f"{ORIGIN}\n{json.dumps([event | {'id': 4343}])}")
        notify("another-replica\nnot json")  # unreadable: left to the sync, the listener goes on
        notify(f"another-replica\n{json.dumps([event | {'id': 4444}])}")
        eventually(lambda: broadcaster.seen(4444), timeout=10, what="the next carried transition")
        assert not broadcaster.seen(4343)


def test_an_alarm_transaction_notifies_its_transitions(pg_url: str, tokens: Tokens) -> None:
    """What other replicas receive: this process's origin, then the committed transitions' event views."""
    settings = Settings(  # type: ignore[call-arg]
        database_url=pg_url, api_tokens=f"admin:{tokens.admin},ingest:{tokens.ingest}", log_json=False
    )
    dsn = create_engine(pg_url).url.set(drivername="postgresql").render_as_string(hide_password=False)
    with (
        psycopg.connect(dsn, autocommit=True) as listening,
        TestClient(create_app(settings), headers=tokens.header("admin")) as client,
    ):
        listening.execute("LISTEN gridos_alarms")
        client.put(
            f"/api/v1/devices/{DEVICE}",
            json={"type": "transformer", "site": "north", "nominal_voltage": 11000, "rated_current": 400},
        ).raise_for_status()
        feed = Feed(client, tokens)
        feed.send(voltage=11000.0)
        feed.send(voltage=12500.0)  # h and hh
        with client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
            ids = set(conn.execute(text("SELECT id FROM alarm_events WHERE action = 'activate'")).scalars())
        payloads = [n.payload for n in listening.notifies(timeout=2)]
    carried = [e for p in payloads if p.startswith(f"{ORIGIN}\n") for e in json.loads(p.partition("\n")[2])]
    assert {e["action"] for e in carried} == {"activate"} and {e["condition"] for e in carried} == {"h", "hh"}
    assert {e["id"] for e in carried} == ids
