"""Restore drill on a real GridOS process, for SQLite and PostgreSQL: back it up while it runs, stop it,
wipe the database, restore, start again: every API answer is identical, and the restored service keeps
working (new rules and samples are accepted)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from gridos.archive.backup import BackupError, backup, restore
from gridos.db.migrate import upgrade
from gridos.db.tables import devices
from tests.support.history import DEVICES, answers, history_queries, seed
from tests.support.servers import GridosServer, start_gridos


def _gridos(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridos", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _snapshot(server: GridosServer) -> dict[str, object]:
    with server.client() as http:
        out: dict[str, object] = {}
        for path in (
            "/api/v1/devices",
            "/api/v1/alarm-rules",
            "/api/v1/alarm-rules/audit",
            "/api/v1/alarms",
            "/api/v1/alarms/history",
        ):
            r = http.get(path)
            assert r.status_code == 200, (path, r.text)
            out[path] = r.json()
        for device_id in DEVICES:
            out[device_id] = http.get(f"/api/v1/devices/{device_id}/latest").json()
        out["history"] = answers(http, history_queries())
    return out


def _wipe(database_url: str, db_file: Path) -> None:
    if database_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_file}{suffix}").unlink(missing_ok=True)
        return
    url = make_url(database_url)
    admin = f"postgresql://{url.username}@{url.host}:{url.port}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE {url.database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {url.database}")


@pytest.mark.slow
def test_backup_wipe_restore_every_answer_identical(database_url: str, tmp_path: Path) -> None:
    env = {
        "GRIDOS_DATABASE_URL": database_url,
        "GRIDOS_AUTO_MIGRATE": "true",
        # No communication alarms from the week-old seed data: what is compared must not depend on when
        # the staleness check happens to run.
        "GRIDOS_ALARMS_COMM_FAILURE_MULTIPLIER": "100000",
    }
    db_file = tmp_path / "gridos.db"
    # Generous start-up timeouts: on a loaded CI machine importing the app alone can take 20 s.
    with start_gridos(tmp_path, env, start=False).start(timeout=120) as server:
        with server.client() as http:
            seed(http)
            now = datetime.now(UTC).isoformat()
            r = http.post(
                "/api/v1/scada/data",
                json=[{"device_id": "north/feeder-1", "timestamp": now, "voltage": 12500, "current": 90}],
            )
            assert r.status_code == 200, r.text
            rule = {
                "device_id": "south/feeder-1",
                "measurement": "current",
                "limits": {"h": {"value": 200, "priority": "high", "deadband": 5}},
            }
            created = http.post("/api/v1/alarm-rules", json=rule)
            assert created.status_code == 201, created.text
            changed = {"limits": {"h": {"value": 210, "priority": "high"}}}
            http.put(f"/api/v1/alarm-rules/{created.json()['id']}", json=changed).raise_for_status()
            alarms = http.get("/api/v1/alarms").json()["items"]
            assert alarms, "the 12.5 kV sample should have raised a voltage alarm"
            http.post(f"/api/v1/alarms/{alarms[0]['id']}/ack", json={"comment": "drill"}).raise_for_status()
        before = _snapshot(server)

        backup_dir = tmp_path / "backup"
        done = _gridos(server.env, "backup", "--output", str(backup_dir))
        assert done.returncode == 0, done.stderr
        assert (backup_dir / "manifest.json").exists()
    _wipe(database_url, db_file)

    restore_env = server.env
    done = _gridos(restore_env, "restore", "--input", str(backup_dir))
    assert done.returncode == 0, done.stderr

    restarted = GridosServer(
        **{k: getattr(server, k) for k in ("url", "port", "admin_token", "ingest_token", "env", "log_path")}
    )
    with restarted.start(timeout=120):
        after = _snapshot(restarted)
        for key in before:
            assert after[key] == before[key], key
        with restarted.client() as http:
            # Sequences and partitions came back too: the restored service takes new data.
            rule = {
                "device_id": "north/meter-2",
                "measurement": "voltage",
                "limits": {"h": {"value": 11600, "priority": "low"}},
            }
            assert http.post("/api/v1/alarm-rules", json=rule).status_code == 201
            now = datetime.now(UTC).isoformat()
            r = http.post(
                "/api/v1/scada/data",
                json=[{"device_id": "north/meter-2", "timestamp": now, "voltage": 11000}],
            )
            assert r.status_code == 200 and r.json()["stored"] == 1


def test_refusals_are_one_line_errors(tmp_path: Path) -> None:
    """SQLite only: the checks are the same code on both backends."""
    url = f"sqlite:///{tmp_path / 'gridos.db'}"
    engine = create_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(
            devices.insert().values(
                id="north/feeder-1",
                type="feeder",
                site="north",
                expected_interval_s=10.0,
                tags={"bay": "2"},
                created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )
    good = tmp_path / "good"
    manifest = backup(engine, good)
    assert manifest["tables"]["devices"]["rows"] == 1
    with pytest.raises(BackupError, match="is not empty"):
        backup(engine, good)
    with pytest.raises(BackupError, match="already holds 1 rows"):
        restore(engine, good)
    # A damaged file is found before anything is touched.
    broken = tmp_path / "broken"
    shutil.copytree(good, broken)
    data = (broken / "devices.parquet").read_bytes()
    (broken / "devices.parquet").write_bytes(data[:-9] + bytes([data[-9] ^ 1]) + data[-8:])
    with pytest.raises(BackupError, match=r"devices.parquet: checksum differs"):
        restore(engine, broken, force=True)
    # --force replaces the data in one transaction.
    result = restore(engine, good, force=True)
    assert result["restored"]["devices"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(devices.c.tags)).scalar() == {"bay": "2"}
    engine.dispose()

    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")} | {"GRIDOS_DATABASE_URL": url}
    r = _gridos(env, "restore", "--input", str(tmp_path))
    assert r.returncode == 2
    assert r.stderr.strip() == f"gridos restore: {tmp_path} has no manifest.json: not a GridOS backup"
