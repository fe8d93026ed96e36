"""Migration 0008 (segments): a database at 0007 holding raw samples (across midnight, so two day
partitions) and the marks of minutes not rolled up yet is migrated; on PostgreSQL every sample is compacted
into segments, and every raw point and bucket answers as the samples say, before and after the rollup job;
a retry of a migrated sample is a duplicate; the downgrade gives the raw rows back."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from gridos.app import create_app
from gridos.clock import DAY_US, to_us
from gridos.config import Settings
from gridos.telemetry.store import partition_name
from tests.support.clock import iso, past
from tests.support.migrations import migrate
from tests.support.tokens import Tokens

DEVICE = "north/feeder-1"
MEASUREMENTS = ("voltage", "current")
T0 = past(days=2, align=timedelta(days=1)) + timedelta(hours=23, minutes=50)  # spans midnight
RAW = "SELECT series_id, quality, ts, value, received_at FROM series_samples ORDER BY series_id, ts"


def _seed_0007(engine: Engine) -> list[tuple]:
    """What a 0007 GridOS held before its rollup job ran: a device, series, raw samples and marks."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for day in (T0.date(), T0.date() + timedelta(days=1)):
                start = (day - T0.date()).days * DAY_US + to_us(T0) // DAY_US * DAY_US
                conn.exec_driver_sql(
                    f"CREATE TABLE {partition_name(day)} PARTITION OF series_samples "
                    f"FOR VALUES FROM ({start}) TO ({start + DAY_US})"
                )
        conn.execute(
            text(
                "INSERT INTO devices (id, type, site, expected_interval_s, tags, created_at, updated_at) "
                "VALUES (:id, 'feeder', 'north', 20, '{}', :now, :now)"
            ),
            {"id": DEVICE, "now": T0.isoformat()},
        )
        rows = []
        for measurement in MEASUREMENTS:
            sid = conn.execute(
                text("INSERT INTO series (device_id, measurement) VALUES (:d, :m) RETURNING id"),
                {"d": DEVICE, "m": measurement},
            ).scalar_one()
            for i in range(60):  # every 20 s for 20 minutes
                ts = to_us(T0 + timedelta(seconds=20 * i))
                rows.append((sid, 2 if i == 4 else 1 if i == 9 else 0, ts, 100.0 * sid + i % 7, ts + 5))
        conn.execute(
            text(
                "INSERT INTO series_samples (series_id, quality, ts, value, received_at) "
                "VALUES (:s, :q, :t, :v, :r)"
            ),
            [dict(zip("sqtvr", r, strict=True)) for r in rows],
        )
        conn.execute(
            text("INSERT INTO rollup_pending (bucket, received_at) VALUES (:b, :r)"),
            [{"b": r[2] - r[2] % 60_000_000, "r": r[4]} for r in rows],
        )
    return sorted(rows, key=lambda r: (r[0], r[2]))  # by series and time


def _answers(client: TestClient) -> dict[tuple[str, str], object]:
    out: dict[tuple[str, str], object] = {}
    for measurement in MEASUREMENTS:
        for step in (None, "1m", "5m"):
            window = {"from": iso(T0), "to": iso(T0 + timedelta(minutes=20))}
            r = client.get(
                "/api/v1/scada/data",
                params={"device_id": DEVICE, "measurement": measurement, **window}
                | ({"step": step} if step else {}),
            )
            assert r.status_code == 200, r.text
            out[(measurement, step or "raw")] = r.json()["buckets" if step else "points"]
    return out


def test_0007_samples_answer_the_same_after_0008(empty_database_url: str, tokens: Tokens) -> None:
    engine = create_engine(empty_database_url)
    migrate(engine, "0007_rollups_by_series")
    rows = _seed_0007(engine)
    postgres = engine.dialect.name == "postgresql"

    migrate(engine, "head")
    with engine.connect() as conn:
        if postgres:  # all compacted: one segment per series and minute, none left raw
            assert conn.execute(text("SELECT count(*) FROM series_samples")).scalar_one() == 0
            assert conn.execute(text("SELECT count(*) FROM series_segments")).scalar_one() == 2 * 20
            assert conn.execute(text(f"SELECT count(*) FROM series_segments_p{T0:%Y%m%d}")).scalar() == 20
        # The view answers every sample as it was.
        assert sorted(
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT n.id, v.quality, v.ts, v.value, v.received_at FROM samples v "
                    "JOIN series n ON n.device_id = v.device_id AND n.measurement = v.measurement"
                )
            )
        ) == sorted(rows)
    settings = Settings(database_url=empty_database_url, api_tokens=f"admin:{tokens.admin}", log_json=False)  # type: ignore[call-arg]
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        before = _answers(client)
        for measurement, sid in zip(MEASUREMENTS, (1, 2), strict=True):
            mine = [r for r in rows if r[0] == sid]
            assert [p["value"] for p in before[(measurement, "raw")]] == [r[3] for r in mine]  # type: ignore[attr-defined]
            # 3 samples a minute, the invalid one (minute 1) left out.
            assert [b["count"] for b in before[(measurement, "1m")]] == [3, 2] + [3] * 18  # type: ignore[attr-defined]
        assert client.app.state.services.telemetry.rollups.run() == 20  # type: ignore[attr-defined]
        assert _answers(client) == before
        # A retried sample that migration compacted is a duplicate.
        r = client.post(
            "/api/v1/scada/data",
            json=[{"device_id": DEVICE, "timestamp": iso(T0), "voltage": 1.0, "current": 2.0}],
        )
        assert r.json()["stored"] == 0

    migrate(engine, "0007_rollups_by_series", down=True)
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(RAW))] == rows
    migrate(engine, "head")
    engine.dispose()
