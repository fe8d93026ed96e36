"""Real GridOS processes on a real PostgreSQL: state survives a crash; two replicas agree."""

from __future__ import annotations

import concurrent.futures
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.alarms.sse import Event, read_stream
from tests.support.postgres import PostgresServer
from tests.support.servers import GridosServer, start_gridos

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DEVICE = "east/feeder-7"
FAST = {
    "GRIDOS_ALARMS_SYNC_SECONDS": "0.1",
    "GRIDOS_ALARMS_SUPERVISE_SECONDS": "0.2",
    "GRIDOS_LOG_JSON": "false",
}


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    name = postgres.create_database(template=postgres.template)  # type: ignore[attr-defined]
    yield postgres.url(name)
    postgres.drop_database(name)


def launch(tmp_path: Path, env: dict[str, str]) -> GridosServer:
    """A real process; a generous start-up timeout because CI machines can be busy."""
    return start_gridos(tmp_path, env, start=False).start(timeout=180)


def register(server: GridosServer) -> None:
    with server.client() as c:
        c.put(
            f"/api/v1/devices/{DEVICE}",
            json={"type": "feeder", "site": "east", "nominal_voltage": 11000, "expected_interval_s": 1},
        ).raise_for_status()


def post(server: GridosServer, ts: datetime, voltage: float, client: httpx.Client | None = None) -> None:
    body = {"device_id": DEVICE, "timestamp": ts.isoformat(), "voltage": voltage}
    c = client or server.client(server.ingest_token)
    c.post("/api/v1/scada/data", json=body).raise_for_status()


def alarms(server: GridosServer, **params: Any) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get("/api/v1/alarms", params=params)
        r.raise_for_status()
        return r.json()["items"]


def history(server: GridosServer) -> list[dict[str, Any]]:
    with server.client() as c:
        r = c.get("/api/v1/alarms/history", params={"limit": 10_000})
        r.raise_for_status()
        return list(reversed(r.json()["items"]))


def test_state_and_audit_survive_a_crash(tmp_path: Path, pg_url: str) -> None:
    env = FAST | {"GRIDOS_DATABASE_URL": pg_url}
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    server = launch(tmp_path, env)
    try:
        register(server)
        post(server, t0, 12500)  # h and hh
        by_cond = {a["condition"]: a for a in alarms(server)}
        assert set(by_cond) == {"h", "hh"}
        with server.client() as c:
            c.post(
                f"/api/v1/alarms/{by_cond['hh']['id']}/ack",
                json={"comment": "crew dispatched", "user": "ana"},
            ).raise_for_status()
            c.post(
                f"/api/v1/alarms/{by_cond['h']['id']}/shelve", json={"kind": "timed", "duration_s": 3600}
            ).raise_for_status()
        before = {a["id"]: a for a in alarms(server)}
    finally:
        server.kill()  # SIGKILL: no shutdown hook runs

    restarted = GridosServer(
        url=server.url,
        port=server.port,
        admin_token=server.admin_token,
        ingest_token=server.ingest_token,
        env=server.env,
        log_path=server.log_path,
    ).start(timeout=180)
    try:
        after = {a["id"]: a for a in alarms(restarted)}
        assert after == before
        assert {a["state"] for a in after.values()} == {"active_acked", "shelved"}
        acks = [e for e in history(restarted) if e["action"] == "ack"]
        assert [(e["actor"], e["comment"]) for e in acks] == [("admin", "crew dispatched")]
        # The rebuilt state drives evaluation: the acknowledged hh clears straight to normal, the shelved
        # h stays shelved (its condition is tracked underneath).
        post(restarted, t0 + timedelta(seconds=1), 11000)
        states = {a["condition"]: a["state"] for a in alarms(restarted)}
        assert states == {"h": "shelved"}
        with restarted.client() as c:
            r = c.post(f"/api/v1/alarms/{by_cond['h']['id']}/unshelve")
            assert r.json()["state"] == "normal"
    finally:
        restarted.stop()


def _excursions(
    t0: datetime, count: int, shape: tuple[float, ...] = (11000, 11000, 11800, 11800, 11800, 11000, 11000)
) -> list[tuple[datetime, float]]:
    samples = []
    t = t0
    for _ in range(count):
        for v in shape:
            t += timedelta(seconds=1)
            samples.append((t, float(v)))
    return samples


def test_two_replicas_one_alarm_per_excursion(tmp_path: Path, pg_url: str) -> None:
    """Both processes receive every sample at the same moment (redundant front ends), then the stream
    alternates between them (a load balancer): each excursion above +5% is exactly one alarm."""
    env = FAST | {"GRIDOS_DATABASE_URL": pg_url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with launch(tmp_path / "a", env) as a, launch(tmp_path / "b", env) as b:
        register(a)
        # A live display on replica b sees every transition, also those replica a committed.
        streamed: list[Event] = []
        connected = threading.Event()
        display = threading.Thread(target=read_stream, args=(b.url, b.admin_token, 24, streamed, connected))
        display.start()
        assert connected.wait(30)
        t0 = datetime.now(UTC) - timedelta(minutes=10)
        duplicated = _excursions(t0, 6)
        clients = {a.url: a.client(a.ingest_token), b.url: b.client(b.ingest_token)}
        barrier = threading.Barrier(2)

        def run(server: GridosServer) -> None:
            for ts, v in duplicated:
                barrier.wait()
                post(server, ts, v, clients[server.url])

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for f in [pool.submit(run, a), pool.submit(run, b)]:
                f.result()

        alternating = _excursions(duplicated[-1][0], 6)
        for i, (ts, v) in enumerate(alternating):
            post(a if i % 2 else b, ts, v, clients[(a if i % 2 else b).url])

        events = history(a)
        assert events == history(b)
        activations = Counter((e["condition"], e["action"]) for e in events)
        assert activations[("h", "activate")] == 12, events
        assert activations[("h", "clear")] == 12, events
        assert {e["condition"] for e in events} == {"h"}
        # The journal is a valid sequence: each clear follows an activation of the same excursion.
        states = [(e["from_state"], e["to_state"]) for e in events]
        assert (
            states
            == [("normal", "active_unacked"), ("active_unacked", "cleared_unacked")]
            + [
                ("cleared_unacked", "active_unacked"),
                ("active_unacked", "cleared_unacked"),
            ]
            * 11
        )
        assert alarms(a) == alarms(b)
        (alarm,) = alarms(a)
        assert alarm["state"] == "cleared_unacked"
        for c in clients.values():
            c.close()
        display.join(30)
        assert [d["id"] for _, _, d in streamed] == [e["id"] for e in events]


def test_replicas_agree_on_every_excursion_whichever_takes_each_sample(tmp_path: Path, pg_url: str) -> None:
    """Issue 16, item 5: one device's samples alternate between two replicas, each sent after the previous
    one was acknowledged (a round-robin load balancer). Each replica's cache of the alarm state is then
    always one sample behind; every one of the 20 excursions must still raise and clear exactly once."""
    env = FAST | {"GRIDOS_DATABASE_URL": pg_url}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with launch(tmp_path / "a", env) as a, launch(tmp_path / "b", env) as b:
        register(a)
        clients = [a.client(a.ingest_token), b.client(b.ingest_token)]
        # One sample above the limit per excursion: a replica that trusts a stale cache misses it.
        samples = _excursions(datetime.now(UTC) - timedelta(minutes=10), 20, (11000, 11800, 11000))
        for i, (ts, v) in enumerate(samples):
            post(a, ts, v, clients[i % 2])
        for c in clients:
            c.close()
        events = history(a)
        activations = Counter((e["condition"], e["action"]) for e in events)
        assert activations[("h", "activate")] == 20, events
        assert activations[("h", "clear")] == 20, events
        assert alarms(a) == alarms(b)
