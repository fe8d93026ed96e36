"""Segments (historian step 3): closed minutes compacted by the rollup job into one row of arrays per series
and minute on PostgreSQL. Every answer is the same before and after compaction (raw points, raw and
rollup buckets, latest values, state events, export, backup); a retried batch is all duplicates; late data
into a compacted minute is answered at once and folded in by the next run; a failed run leaves the raw rows
and its marks. SQLite keeps raw rows, and the same tests pin that its answers are the same too."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from gridos.app import create_app
from gridos.archive.backup import backup
from gridos.archive.export import export
from gridos.services import Services
from gridos.telemetry import rollups as rollups_module
from tests.support.clock import iso, past
from tests.support.tokens import Tokens

DEVICE = "north/feeder-1"
T0 = past(hours=3)  # 20 minutes of samples, all closed


@pytest.fixture
def client(make_settings, tokens: Tokens) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(create_app(make_settings()), headers=tokens.header("admin")) as c:
        c.put(f"/api/v1/devices/{DEVICE}", json={"type": "feeder", "site": "north"})
        yield c


def _services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def _postgres(client: TestClient) -> bool:
    return _services(client).engine.dialect.name == "postgresql"


def _count(client: TestClient, sql: str) -> int:
    with _services(client).engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _items(start_s: int, n: int, every_s: int = 10) -> list[dict[str, object]]:
    """A reading of voltage (one invalid, one questionable) and of the breaker (opening and closing)."""
    items: list[dict[str, object]] = []
    for i in range(start_s // every_s, start_s // every_s + n):
        items.append(
            {
                "device_id": DEVICE,
                "timestamp": iso(T0 + timedelta(seconds=every_s * i)),
                "voltage": 11000 + (i % 13) * 2.5,
                "breaker_closed": (i // 17) % 2 == 0,
                **({"quality": "invalid"} if i == 7 else {"quality": "questionable"} if i == 30 else {}),
            }
        )
    return items


def _post(client: TestClient, items: list[dict[str, object]]) -> int:
    r = client.post("/api/v1/scada/data", json=items)
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == 2 * len(items)
    return int(r.json()["stored"])


def _answers(client: TestClient, tmp_path: Path) -> dict[str, object]:
    """Everything a reader of the history can ask about the 20 minutes."""
    out: dict[str, object] = {}
    window = {"device_id": DEVICE, "from": iso(T0), "to": iso(T0 + timedelta(minutes=20))}
    for measurement in ("voltage", "breaker_closed"):
        for key, extra in {
            "raw": {},
            "raw-truncated": {"limit": 25},
            "30s": {"step": "30s"},  # raw buckets
            "1m": {"step": "1m"},
            "5m": {"step": "5m"},  # rollup buckets
        }.items():
            r = client.get("/api/v1/scada/data", params=window | {"measurement": measurement, **extra})
            assert r.status_code == 200, r.text
            out[f"{measurement}-{key}"] = r.json()
    out["latest"] = client.get(f"/api/v1/devices/{DEVICE}/latest").json()
    r = client.get("/api/v1/alarms/events", params=window)
    assert r.status_code == 200, r.text
    out["events"] = r.json()
    engine = _services(client).engine
    n = export(
        engine,
        None,
        int(T0.timestamp() * 1e6),
        int((T0 + timedelta(days=1)).timestamp() * 1e6),
        None,
        "csv",
        tmp_path / "export.csv",
    )
    out["export"] = (n, pcsv.read_csv(tmp_path / "export.csv").sort_by("ts").to_pylist())
    shutil.rmtree(tmp_path / "backup", ignore_errors=True)
    backup(engine, tmp_path / "backup")
    out["backup"] = pq.read_table(tmp_path / "backup" / "series_samples.parquet").to_pylist()
    return out


def test_every_answer_is_the_same_after_compaction(client: TestClient, tmp_path: Path) -> None:
    assert _post(client, _items(0, 120)) == 240  # 20 minutes, every 10 s, two series
    before = _answers(client, tmp_path)
    assert before["voltage-raw-truncated"]["truncated"]  # type: ignore[index]
    assert len(before["events"]["items"]) >= 6  # type: ignore[index]

    assert _services(client).telemetry.rollups.run() == 20
    if _postgres(client):
        # Every closed minute of both series is one segment now; no raw row is left.
        assert _count(client, "SELECT count(*) FROM series_samples") == 0
        assert _count(client, "SELECT count(*) FROM series_segments") == 40
        assert _count(client, "SELECT sum(cardinality(offsets)) FROM series_segments") == 240
        # Only the minutes holding the invalid or the questionable reading (both series) keep qualities.
        assert _count(client, "SELECT count(qualities) FROM series_segments") == 4
    else:
        assert _count(client, "SELECT count(*) FROM series_samples") == 240
    assert _answers(client, tmp_path) == before


def test_a_retried_batch_after_compaction_is_all_duplicates(client: TestClient, tmp_path: Path) -> None:
    services = _services(client)
    assert _post(client, _items(0, 120)) == 240
    services.telemetry.rollups.run()
    before = _answers(client, tmp_path)
    rollups = _count(client, "SELECT count(*) FROM rollups_1m")

    assert _post(client, _items(0, 120)) == 0
    # Half a retry, half new samples after the compacted minutes: only the new ones are stored.
    assert _post(client, _items(1140, 12)) == 12
    assert _count(client, "SELECT count(*) FROM series_samples") == 12 if _postgres(client) else 252
    assert services.telemetry.rollups.run() == 1  # the new minute; the retries marked nothing
    assert _count(client, "SELECT count(*) FROM rollups_1m") == rollups + 2
    after = _answers(client, tmp_path)
    assert after["voltage-5m"] == before["voltage-5m"] and after["latest"] != before["latest"]


def test_late_data_into_a_compacted_minute_is_answered_and_folded_in(client: TestClient) -> None:
    services = _services(client)
    assert _post(client, _items(0, 120)) == 240
    services.telemetry.rollups.run()
    minute_12 = {
        "device_id": DEVICE,
        "from": iso(T0 + timedelta(minutes=12)),
        "to": iso(T0 + timedelta(minutes=13)),
    }
    late = [
        {"device_id": DEVICE, "timestamp": iso(T0 + timedelta(minutes=12, seconds=s)), "voltage": 9000.0 + s}
        for s in (1, 59, 25)
    ]
    r = client.post("/api/v1/scada/data", json=late)
    assert r.json()["stored"] == 3

    def minute() -> tuple[list[float], dict]:
        raw = client.get("/api/v1/scada/data", params=minute_12).json()["points"]
        [bucket] = client.get("/api/v1/scada/data", params=minute_12 | {"step": "1m"}).json()["buckets"]
        return [p["value"] for p in raw], bucket

    values, bucket = minute()
    # In time order, the late samples between the compacted ones, and counted at once.
    assert len(values) == 9
    assert values[1] == 9001.0 and values[4] == 9025.0 and values[-1] == 9059.0
    assert (bucket["count"], bucket["min"], bucket["last"]) == (9, 9001.0, 9059.0)
    assert services.telemetry.rollups.run() == 1
    assert minute() == (values, bucket)
    if _postgres(client):
        assert _count(client, "SELECT count(*) FROM series_samples") == 0
        assert _count(client, "SELECT count(*) FROM series_segments") == 40
        assert _count(client, "SELECT sum(cardinality(offsets)) FROM series_segments") == 243
        # Arrays in time order (offsets strictly increasing), the late samples at their place in them.
        unordered = (
            "SELECT count(*) FROM series_segments WHERE "
            "offsets <> ARRAY(SELECT o FROM unnest(offsets) o ORDER BY o) OR "
            "cardinality(offsets) <> (SELECT count(DISTINCT o) FROM unnest(offsets) o)"
        )
        assert _count(client, unordered) == 0
        with services.engine.connect() as conn:
            folded = conn.execute(
                text(
                    "SELECT g.values FROM series_segments g JOIN series s ON s.id = g.series_id "
                    "WHERE s.measurement = 'voltage' AND cardinality(g.offsets) = 9"
                )
            ).scalar_one()
        assert folded == values
    # The late samples retried: duplicates of the segment they were folded into.
    assert client.post("/api/v1/scada/data", json=late).json()["stored"] == 0


def test_a_failed_run_leaves_raw_rows_and_marks(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    services = _services(client)
    assert _post(client, _items(0, 12)) == 24  # minutes 0 and 1
    marks = _count(client, "SELECT count(*) FROM rollup_pending")

    def crash(conn: object, bucket: int, also: str = "") -> int:
        compact(conn, bucket, also)  # the statement ran: raw rows deleted, segments and rollups written
        raise RuntimeError("killed mid-transaction")

    compact = rollups_module.compact
    monkeypatch.setattr(rollups_module, "compact", crash)
    if _postgres(client):
        with pytest.raises(RuntimeError):
            services.telemetry.rollups.run()
        # Neither half committed: the raw rows, the marks, no segment and no rollup.
        assert _count(client, "SELECT count(*) FROM series_samples") == 24
        assert _count(client, "SELECT count(*) FROM series_segments") == 0
        assert _count(client, "SELECT count(*) FROM rollups_1m") == 0
        assert _count(client, "SELECT count(*) FROM rollup_pending") == marks
    monkeypatch.undo()
    assert services.telemetry.rollups.run() == 2
    raw = client.get(
        "/api/v1/scada/data",
        params={"device_id": DEVICE, "from": iso(T0), "to": iso(T0 + timedelta(minutes=2))},
    ).json()["points"]
    assert len(raw) == 12
    if _postgres(client):
        assert _count(client, "SELECT count(*) FROM series_samples") == 0
        assert _count(client, "SELECT count(*) FROM series_segments") == 4
