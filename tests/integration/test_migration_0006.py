"""Migration 0006 (integer series ids): a database at 0005 holding samples over several day partitions is
migrated, and every sample answers the same through the API; retries of migrated samples are still
recognised as duplicates; the downgrade gives the old table back with the same rows; a backup written
before 0006 restores into it."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text

from gridos.app import create_app
from gridos.archive.backup import backup, restore
from gridos.clock import DAY_US, to_us
from gridos.config import Settings
from gridos.telemetry.service import QUALITY_NAMES
from tests.support.clock import iso, past
from tests.support.migrations import migrate
from tests.support.tokens import Tokens

DEVICES = ("north/feeder-1", "north/feeder-2", "south/bus-1")
MEASUREMENTS = ("voltage", "current", "frequency")
T0 = past(days=2, align=timedelta(days=1)) + timedelta(
    hours=23, minutes=30
)  # 23:30, two days ago: spans midnight


def _seed_v1(engine: Engine) -> list[tuple[str, str, int, float, int, int]]:
    """What a 0005 GridOS wrote: devices, and samples in the old narrow table (partitioned per day)."""
    rows = []
    for d, device in enumerate(DEVICES):
        for m, measurement in enumerate(MEASUREMENTS):
            for i in range(150):  # every 20 s for 50 minutes: crosses midnight into the next partition
                ts = to_us(T0 + timedelta(seconds=20 * i))
                value = 1000.0 * (d + 1) + 10 * m + math.sin(i) / 3  # not round: exact float round trip
                quality = 2 if i == 7 else (1 if i % 11 == 0 else 0)
                rows.append((device, measurement, ts, value, quality, ts + 1234))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for day in sorted({r[2] // DAY_US for r in rows}):
                start = day * DAY_US
                name = f"samples_p{(T0.date() + timedelta(days=day - to_us(T0) // DAY_US)):%Y%m%d}"
                conn.exec_driver_sql(
                    f"CREATE TABLE {name} PARTITION OF samples FOR VALUES FROM ({start}) TO ({start + DAY_US})"
                )
        now = T0.isoformat()
        for device in DEVICES:
            conn.execute(
                text(
                    "INSERT INTO devices (id, type, site, expected_interval_s, tags, created_at, updated_at) "
                    "VALUES (:id, 'feeder', :site, 20, '{}', :now, :now)"
                ),
                {"id": device, "site": device.split("/")[0], "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO samples (device_id, measurement, ts, value, quality, received_at) "
                "VALUES (:d, :m, :t, :v, :q, :r)"
            ),
            [dict(zip("dmtvqr", r, strict=True)) for r in rows],
        )
    return rows


def _answers(client: TestClient, device: str, measurement: str) -> list[tuple[str, float, str]]:
    r = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": device,
            "measurement": measurement,
            "from": iso(T0),
            "to": iso(T0 + timedelta(hours=1)),
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["truncated"] is False
    return [(p["ts"], p["value"], p["quality"]) for p in r.json()["points"]]


def test_0005_data_answers_the_same_after_0006(empty_database_url: str, tokens: Tokens) -> None:
    engine = create_engine(empty_database_url)
    migrate(engine, "0005_archive_catalog")
    rows = _seed_v1(engine)
    names = QUALITY_NAMES
    expected = {
        (d, m): [
            (iso(T0 + timedelta(microseconds=t - to_us(T0))), v, names[q])
            for dd, mm, t, v, q, _ in rows
            if (dd, mm) == (d, m)
        ]
        for d in DEVICES
        for m in MEASUREMENTS
    }

    migrate(engine, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM series")).scalar_one() == 9
        # (0008 compacts them into segments on PostgreSQL: the view counts both.)
        assert conn.execute(text("SELECT count(*) FROM samples")).scalar_one() == len(rows)
        # The view keeps the old columns for every reader of the history.
        assert sorted(
            tuple(r)
            for r in conn.execute(
                text("SELECT device_id, measurement, ts, value, quality, received_at FROM samples")
            )
        ) == sorted(rows)
        if engine.dialect.name == "postgresql":
            parts = conn.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'series_samples'"
                )
            ).scalars()
            assert len(list(parts)) == 2

    settings = Settings(database_url=empty_database_url, api_tokens=f"admin:{tokens.admin}", log_json=False)  # type: ignore[call-arg]
    app = create_app(settings)
    with TestClient(app, headers=tokens.header("admin")) as client:
        for (device, measurement), points in expected.items():
            answered = _answers(client, device, measurement)
            assert [(p[0].replace("+00:00", "Z"), p[1], p[2]) for p in answered] == [
                (p[0], p[1], p[2]) for p in points
            ]
        # A retry of migrated samples is recognised: the idempotency key survived the move.
        retry = [
            {"device_id": d, "timestamp": iso(T0 + timedelta(microseconds=t - to_us(T0))), m: v}
            for d, m, t, v, q, _ in rows[:40]
            if q == 0
        ]
        result = client.post("/api/v1/scada/data", json=retry).json()
        assert result["stored"] == 0 and result["duplicates"] == len(retry)
        fresh = {"device_id": DEVICES[0], "timestamp": iso(T0 + timedelta(seconds=5)), "voltage": 1.5}
        assert client.post("/api/v1/scada/data", json=fresh).json()["stored"] == 1
        # Buckets from raw samples (a step that is not whole minutes) aggregate the migrated rows.
        r = client.get(
            "/api/v1/scada/data",
            params={
                "device_id": DEVICES[1],
                "measurement": "current",
                "from": iso(T0),
                "to": iso(T0 + timedelta(minutes=10)),
                "step": "90s",
            },
        ).json()
        end = to_us(T0 + timedelta(minutes=10))
        step = 90_000_000
        want: dict[int, list[float]] = {}
        for d, m, t, v, q, _ in sorted(rows, key=lambda r: r[2]):
            if (d, m) == (DEVICES[1], "current") and q < 2 and t < end:
                want.setdefault(t - t % step, []).append(v)
        got = {to_us(datetime.fromisoformat(b["ts"])): b for b in r["buckets"]}
        assert sorted(got) == sorted(want)
        for bucket, values in want.items():
            b = got[bucket]
            assert (b["count"], b["min"], b["max"], b["last"]) == (
                len(values),
                min(values),
                max(values),
                values[-1],
            )

    migrate(engine, "0005_archive_catalog", down=True)
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT device_id, measurement, ts, value, quality, received_at FROM samples")
        ).all()
    assert len(back) == len(rows) + 1 and set(rows) <= {tuple(r) for r in back}
    engine.dispose()


def test_backup_from_before_0006_restores(empty_database_url: str, tmp_path: Path) -> None:
    """A backup written at 0005 holds `samples` by name; restored into 0006 they land under series ids."""
    engine = create_engine(empty_database_url)
    migrate(engine, "0005_archive_catalog")
    rows = _seed_v1(engine)
    # What the backup of 0005 wrote: every table, `samples` among them (today's code knows no such table,
    # so that one file is added here as 0005 wrote it).
    out = tmp_path / "backup"
    backup(engine, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["revision"] == "0005_archive_catalog" and "samples" not in manifest["tables"]
    with engine.connect() as conn:
        old = conn.execute(
            text(
                "SELECT device_id, measurement, ts, value, quality, received_at FROM samples ORDER BY 1, 2, 3"
            )
        ).all()
    columns = ("device_id", "measurement", "ts", "value", "quality", "received_at")
    types = (pa.string(), pa.string(), pa.int64(), pa.float64(), pa.int64(), pa.int64())
    pq.write_table(
        pa.table(
            {
                c: pa.array([r[i] for r in old], type=t)
                for i, (c, t) in enumerate(zip(columns, types, strict=True))
            }
        ),
        out / "samples.parquet",
        compression="zstd",
    )
    digest = hashlib.sha256((out / "samples.parquet").read_bytes()).hexdigest()
    manifest["tables"]["samples"] = {"rows": len(old), "sha256": digest}
    (out / "manifest.json").write_text(json.dumps(manifest))

    migrate(engine, "head")
    with engine.begin() as conn:  # something to replace: --force empties series and series_samples too
        conn.execute(text("DELETE FROM series_samples WHERE ts < :t"), {"t": rows[3][2]})
    result = restore(engine, out, force=True)
    assert result["restored"]["samples"] == len(rows)
    with engine.connect() as conn:
        back = conn.execute(
            text("SELECT device_id, measurement, ts, value, quality, received_at FROM samples")
        ).all()
        assert conn.execute(text("SELECT count(*) FROM series")).scalar_one() == 9
    assert sorted(tuple(r) for r in back) == sorted(rows)
    engine.dispose()
