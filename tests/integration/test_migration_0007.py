"""Migration 0007 (rollups by series id, written by a job): a database at 0006 holding samples and the
rollups its ingest kept (also of a series whose raw samples retention already dropped) is migrated, and
every bucketed answer is the same; the downgrade gives the old rollups back; a backup written at 0006
restores into 0007."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from gridos.app import create_app
from gridos.archive.backup import backup, restore
from gridos.clock import DAY_US, to_us
from gridos.config import Settings
from gridos.telemetry.store import partition_name
from tests.support.clock import iso, past
from tests.support.migrations import migrate
from tests.support.tokens import Tokens

DEVICES = ("north/feeder-1", "south/bus-1")
MEASUREMENTS = ("voltage", "current")
T0 = past(days=2, align=timedelta(days=1)) + timedelta(hours=23, minutes=50)  # spans midnight
# Rollups of a series whose raw samples are gone (raw retention is shorter than the rollups'); 0006 never
# registered a series id for it.
GONE = ("west/old-1", "voltage")
GONE_MINUTE = to_us(T0 - timedelta(days=20))
OLD_ROLLUPS = (
    "INSERT INTO rollups_1m (device_id, measurement, bucket, min, max, sum, count, last, last_ts) "
    "SELECT a.device_id, a.measurement, a.bucket, a.mn, a.mx, a.sm, a.cnt, x.value, a.lts FROM ("
    " SELECT device_id, measurement, ts - ts % 60000000 AS bucket, min(value) AS mn, max(value) AS mx,"
    " sum(value) AS sm, count(*) AS cnt, max(ts) AS lts FROM samples WHERE quality < 2"
    " GROUP BY device_id, measurement, ts - ts % 60000000) a"
    " JOIN samples x ON x.device_id = a.device_id AND x.measurement = a.measurement AND x.ts = a.lts"
)


def _seed_0006(engine: Engine) -> None:
    """What a 0006 GridOS held: devices, series, raw samples by series id, rollups by name."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for day in (T0.date(), T0.date() + timedelta(days=1)):
                start = to_us(T0) // DAY_US * DAY_US + (day - T0.date()).days * DAY_US
                conn.exec_driver_sql(
                    f"CREATE TABLE {partition_name(day)} PARTITION OF series_samples "
                    f"FOR VALUES FROM ({start}) TO ({start + DAY_US})"
                )
        for device in (*DEVICES, GONE[0]):
            conn.execute(
                text(
                    "INSERT INTO devices (id, type, site, expected_interval_s, tags, created_at, updated_at) "
                    "VALUES (:id, 'feeder', :site, 20, '{}', :now, :now)"
                ),
                {"id": device, "site": device.split("/")[0], "now": T0.isoformat()},
            )
        rows = []
        for device in DEVICES:
            for measurement in MEASUREMENTS:
                sid = conn.execute(
                    text("INSERT INTO series (device_id, measurement) VALUES (:d, :m) RETURNING id"),
                    {"d": device, "m": measurement},
                ).scalar_one()
                for i in range(60):  # every 20 s for 20 minutes, across midnight
                    ts = to_us(T0 + timedelta(seconds=20 * i))
                    quality = 2 if i == 4 else 0
                    rows.append({"s": sid, "q": quality, "t": ts, "v": 100 * sid + math.sin(i), "r": ts + 5})
        conn.execute(
            text(
                "INSERT INTO series_samples (series_id, quality, ts, value, received_at) "
                "VALUES (:s, :q, :t, :v, :r)"
            ),
            rows,
        )
        conn.execute(text(OLD_ROLLUPS))
        conn.execute(
            text(
                "INSERT INTO rollups_1m (device_id, measurement, bucket, min, max, sum, count, last, last_ts) "
                "VALUES (:d, :m, :b, 1.0, 3.0, 6.0, 3, 2.0, :lt)"
            ),
            {"d": GONE[0], "m": GONE[1], "b": GONE_MINUTE - GONE_MINUTE % 60_000_000, "lt": GONE_MINUTE},
        )


def _answers(client: TestClient) -> dict[tuple[str, str, str], list[dict]]:
    out = {}
    for device, measurement in [(d, m) for d in DEVICES for m in MEASUREMENTS] + [GONE]:
        start = T0 if device != GONE[0] else T0 - timedelta(days=21)
        for step in ("1m", "5m"):
            r = client.get(
                "/api/v1/scada/data",
                params={
                    "device_id": device,
                    "measurement": measurement,
                    "from": iso(start),
                    "to": iso(
                        start + timedelta(days=2) if device == GONE[0] else start + timedelta(minutes=20)
                    ),
                    "step": step,
                },
            )
            assert r.status_code == 200, r.text
            assert r.json()["source"] == "rollup_1m"
            out[(device, measurement, step)] = r.json()["buckets"]
    return out


def _old_rollups(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT device_id, measurement, bucket, min, max, sum, count, last, last_ts FROM rollups_1m"
                )
            )
        )


def test_0006_rollups_answer_the_same_after_0007(
    empty_database_url: str, tokens: Tokens, tmp_path: Path
) -> None:
    engine = create_engine(empty_database_url)
    migrate(engine, "0006_series_ids")
    _seed_0006(engine)
    old = _old_rollups(engine)
    assert len(old) == 4 * 20 + 1
    backup(engine, tmp_path / "at-0006")

    migrate(engine, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM rollups_1m")).scalar_one() == len(old)
        assert conn.execute(text("SELECT count(*) FROM series")).scalar_one() == 5  # GONE registered
    # The rollups as 0006 kept them answer, before any job ran and after one.
    settings = Settings(database_url=empty_database_url, api_tokens=f"admin:{tokens.admin}", log_json=False)  # type: ignore[call-arg]
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        client.app.state.services.telemetry.rollups.run()  # type: ignore[attr-defined]
        migrated = _answers(client)
        for (device, measurement, step), buckets in migrated.items():
            assert len(buckets) == {"1m": 20, "5m": 4}[step] if device != GONE[0] else 1
            if step == "1m":  # minute by minute what 0006's rollups held
                assert [(b["count"], b["min"], b["max"], b["last"], b["avg"]) for b in buckets] == [
                    (r[6], r[3], r[4], r[7], r[5] / r[6]) for r in old if r[:2] == (device, measurement)
                ]
        # The minute holding the invalid sample counts two, not three.
        assert migrated[(DEVICES[0], "voltage", "1m")][1]["count"] == 2

    migrate(engine, "0006_series_ids", down=True)
    assert _old_rollups(engine) == old

    # A backup written at 0006 keeps its rollups by name: restored into 0007 they answer the same.
    migrate(engine, "head")
    restore(engine, tmp_path / "at-0006", force=True)
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        assert _answers(client) == migrated
    engine.dispose()
