"""1-minute rollups written by the rollup job, not by ingest: history answers are exact before the job ran
(pending minutes from raw samples), after it, after late data into a rolled-up minute and after retried
batches; the open minute waits; late data into a day whose raw samples left the hot tier is merged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridos.app import create_app
from gridos.clock import to_us
from gridos.services import Services
from tests.support.clock import iso, past
from tests.support.tokens import Tokens

DEVICE = "north/feeder-1"
T0 = past(hours=3)  # a whole hour: 30 minutes of samples, all closed


@pytest.fixture
def app_client(make_settings, tokens: Tokens, tmp_path: Path) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # The cold tier on, never scheduled: raw samples of days before GRIDOS_ARCHIVE_AFTER_DAYS are no longer
    # taken to be all hot, which is what the late-data merge is for.
    settings = make_settings(archive={"location": str(tmp_path / "cold"), "after_days": 1, "schedule": False})
    with TestClient(create_app(settings), headers=tokens.header("admin")) as c:
        c.put(f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north"})
        yield c


def _services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _post(client: TestClient, start: datetime, values: list[float], every_s: int = 10) -> int:
    items: list[dict[str, object]] = [
        {"device_id": DEVICE, "timestamp": iso(start + timedelta(seconds=every_s * i)), "voltage": v}
        for i, v in enumerate(values)
    ]
    for item in items:
        if item["voltage"] != item["voltage"]:  # NaN stands for an invalid reading of 0.0
            item["voltage"], item["quality"] = 0.0, "invalid"
    r = client.post("/api/v1/scada/data", json=items)
    assert r.status_code == 200, r.text
    return int(r.json()["stored"])


def _buckets(client: TestClient, start: datetime, minutes: int, step: str = "5m") -> list[dict]:
    r = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": DEVICE,
            "measurement": "voltage",
            "from": iso(start),
            "to": iso(start + timedelta(minutes=minutes)),
            "step": step,
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "rollup_1m"
    return r.json()["buckets"]  # type: ignore[no-any-return]


def _expected(start: datetime, samples: dict[datetime, float], step_s: int = 300) -> list[dict]:
    """The buckets computed here from the samples (NaN = invalid, left out)."""
    groups: dict[int, list[tuple[datetime, float]]] = {}
    for ts, v in sorted(samples.items()):
        if v == v:
            groups.setdefault(int((ts - start).total_seconds()) // step_s, []).append((ts, v))
    return [
        {
            "ts": iso(start + timedelta(seconds=k * step_s)).replace("+00:00", "Z"),
            "min": min(v for _, v in g),
            "max": max(v for _, v in g),
            "avg": sum(v for _, v in g) / len(g),
            "last": g[-1][1],
            "count": len(g),
        }
        for k, g in sorted(groups.items())
    ]


def _same(got: list[dict], want: list[dict]) -> None:
    assert [(b["count"], b["min"], b["max"], b["last"]) for b in got] == [
        (b["count"], b["min"], b["max"], b["last"]) for b in want
    ]
    assert all(abs(g["avg"] - w["avg"]) < 1e-9 for g, w in zip(got, want, strict=True))
    assert [datetime.fromisoformat(b["ts"]) for b in got] == [datetime.fromisoformat(b["ts"]) for b in want]


def _count(client: TestClient, table: str) -> int:
    with _services(client).engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_answers_are_the_same_before_and_after_the_job(app_client: TestClient) -> None:
    values = [11000 + (i % 13) * 2.5 for i in range(180)]  # every 10 s for 30 minutes
    values[7] = float("nan")  # invalid: stored, but never in an aggregate
    assert _post(app_client, T0, values) == 180
    samples = {T0 + timedelta(seconds=10 * i): v for i, v in enumerate(values)}
    want = _expected(T0, samples)
    # Ingest wrote no rollup, only marks; the minutes are answered from the raw samples.
    assert _count(app_client, "rollups_1m") == 0 and _count(app_client, "rollup_pending") > 0
    before = _buckets(app_client, T0, 30)
    _same(before, want)

    assert _services(app_client).telemetry.rollups.run() == 30
    assert (_count(app_client, "rollups_1m"), _count(app_client, "rollup_pending")) == (30, 0)
    assert _buckets(app_client, T0, 30) == before
    assert _services(app_client).telemetry.rollups.run() == 0  # nothing left to do

    # A retried batch stores nothing and changes no answer, whether the job ran since or not.
    assert _post(app_client, T0, values) == 0
    assert _buckets(app_client, T0, 30) == before
    _services(app_client).telemetry.rollups.run()
    assert _buckets(app_client, T0, 30) == before

    # Late data into a rolled-up minute: exact at once (that minute from raw), and after the job.
    late = {T0 + timedelta(minutes=12, seconds=s): 9000.0 + s for s in (1, 2, 59)}
    assert _post(app_client, T0 + timedelta(minutes=12, seconds=1), [9001.0, 9002.0]) == 2
    assert _post(app_client, T0 + timedelta(minutes=12, seconds=59), [9059.0]) == 1
    want = _expected(T0, samples | late)
    assert want != before
    _same(_buckets(app_client, T0, 30), want)
    assert _services(app_client).telemetry.rollups.run() == 1
    _same(_buckets(app_client, T0, 30), want)
    _same(_buckets(app_client, T0, 30, step="1m"), _expected(T0, samples | late, step_s=60))


def test_the_open_minute_waits_and_is_answered_from_raw_samples(app_client: TestClient) -> None:
    now = datetime.now(UTC)
    minute = now.replace(second=0, microsecond=0)
    assert _post(app_client, minute, [1.0, 2.0], every_s=1) == 2
    _services(app_client).telemetry.rollups.run(now)
    # Not closed: still pending, not rolled up, and still counted.
    assert (_count(app_client, "rollups_1m"), _count(app_client, "rollup_pending")) == (0, 1)
    [bucket] = _buckets(app_client, minute, 1, step="1m")
    assert (bucket["count"], bucket["last"]) == (2, 2.0)
    assert _services(app_client).telemetry.rollups.run(minute + timedelta(minutes=2)) == 1
    assert _buckets(app_client, minute, 1, step="1m") == [bucket]


def test_late_data_into_a_day_no_longer_all_hot_is_merged(app_client: TestClient) -> None:
    services = _services(app_client)
    old = past(days=3)  # before GRIDOS_ARCHIVE_AFTER_DAYS: the hot rows may be only part of it
    assert _post(app_client, old, [5.0, 7.0, 6.0]) == 3
    services.telemetry.rollups.run()
    # As the archiver leaves it: the day's hot rows gone (to Parquet), its rollups kept.
    with services.engine.begin() as conn:
        conn.execute(text("DELETE FROM series_samples WHERE ts >= :s"), {"s": to_us(old)})
    assert _post(app_client, old + timedelta(seconds=30), [4.0, 8.0]) == 2  # 30 s and 40 s
    assert _post(app_client, old + timedelta(seconds=30), [4.0, 8.0]) == 0  # a retry: nothing new
    # Before the job: the rollup plus the rows of the batches the minute is pending for; after: merged.
    for run_job in (False, True):
        if run_job:
            assert services.telemetry.rollups.run() == 1
        [bucket] = _buckets(app_client, old, 1, step="1m")
        assert (bucket["count"], bucket["min"], bucket["max"], bucket["last"]) == (5, 4.0, 8.0, 8.0)
        assert bucket["avg"] == pytest.approx(30.0 / 5)
    assert services.telemetry.rollups.run() == 0


def test_the_service_runs_the_job_every_interval(make_settings, tokens: Tokens) -> None:  # type: ignore[no-untyped-def]
    with TestClient(
        create_app(make_settings(rollup_interval_seconds=0.2)), headers=tokens.header("admin")
    ) as c:
        c.put(f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north"})
        assert _post(c, T0, [1.0, 2.0, 3.0]) == 3
        deadline = time.monotonic() + 10
        while _count(c, "rollup_pending") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert (_count(c, "rollups_1m"), _count(c, "rollup_pending")) == (1, 0)


def test_a_backlog_is_rolled_up_in_bounded_transactions(app_client: TestClient) -> None:
    start = past(hours=6)
    values = [float(i % 7) for i in range(150)]  # 150 minutes, one sample a minute
    assert _post(app_client, start, values, every_s=60) == 150
    rollups = _services(app_client).telemetry.rollups
    assert rollups.run() == 150
    assert (_count(app_client, "rollups_1m"), _count(app_client, "rollup_pending")) == (150, 0)
    _same(
        _buckets(app_client, start, 150, step="10m"),
        _expected(start, {start + timedelta(minutes=i): v for i, v in enumerate(values)}, step_s=600),
    )


def test_the_job_pauses_between_transactions_within_its_interval(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GRIDOS_ROLLUP_PAUSE_RATIO: a pause after each transaction, as long as the transaction times the ratio,
    while the run stays within its interval; a run that would overrun it catches up without pausing."""
    from gridos.telemetry import rollups as rollups_module

    start = past(hours=6)
    assert _post(app_client, start, [1.0] * 23, every_s=60) == 23  # 5 transactions of at most 5 minutes
    job = _services(app_client).telemetry.rollups
    transactions: list[float] = []
    pauses: list[float] = []
    run_once = job._run_once

    def timed(now):  # type: ignore[no-untyped-def]
        began = time.monotonic()
        n = run_once(now)
        transactions.append(time.monotonic() - began)
        return n

    monkeypatch.setattr(job, "_run_once", timed)
    monkeypatch.setattr(rollups_module.time, "sleep", pauses.append)
    job.pause_ratio, job.interval_s = 2.0, 3600.0
    assert job.run() == 23
    assert len(transactions) == 5
    assert len(pauses) == 4  # none after the last, short one
    for took, paused in zip(transactions, pauses, strict=False):
        assert paused == pytest.approx(2.0 * took, rel=0.2, abs=0.005)

    # An interval already used up: the next backlog is drained without a pause.
    assert _post(app_client, start + timedelta(hours=1), [2.0] * 12, every_s=60) == 12
    pauses.clear()
    job.interval_s = 1e-6
    assert job.run() == 12
    assert pauses == []

    # The archiver's catch-up (pause=False) never pauses.
    assert _post(app_client, start + timedelta(hours=2), [3.0] * 12, every_s=60) == 12
    job.interval_s = 3600.0
    assert job.run(pause=False) == 12
    assert pauses == []


def test_the_job_does_not_wait_for_its_commits_to_be_flushed(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL: the job's transactions commit asynchronously (a crash can only lose whole ones, whose marks
    are then still there to redo; anything that saw one and committed flushed it too), so the ingest commits
    around it do not share its flushes' wait. The settings hold for its transaction only."""
    from gridos.telemetry import rollups as rollups_module

    if not _services(app_client).telemetry.store.postgres:
        pytest.skip("PostgreSQL only")
    engine = _services(app_client).engine
    with engine.begin() as conn:  # the test server's default is off: on here, as in production
        conn.exec_driver_sql(f"ALTER DATABASE {engine.url.database} SET synchronous_commit = on")
    engine.dispose()
    start = past(hours=6)
    assert _post(app_client, start, [1.0, 2.0], every_s=60) == 2
    seen: list[tuple[str, str]] = []
    compact = rollups_module.compact

    def looking(conn, bucket, also=""):  # type: ignore[no-untyped-def]
        seen.append(
            tuple(
                conn.exec_driver_sql(
                    "SELECT current_setting('synchronous_commit'), current_setting('work_mem')"
                ).one()
            )
        )
        return compact(conn, bucket, also)

    monkeypatch.setattr(rollups_module, "compact", looking)
    assert _services(app_client).telemetry.rollups.run() == 2
    assert seen == [("off", rollups_module.COMPACTION_WORK_MEM)] * 2
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW synchronous_commit").scalar_one() == "on"
