"""Archiving closed days to Parquet (local directory and Azurite), on SQLite and PostgreSQL: the history
API answers identically before and after, reruns are idempotent, late samples are merged."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from gridos.app import create_app
from gridos.archive.tables import ACTIVE, archive_files
from tests.support.history import answers, history_queries, midnight, row_keys, seed


@pytest.fixture
def cold_client(make_settings, tokens, archive_env) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    # Rollups kept 9 days: the oldest two days of a whole-minute query must come from cold raw samples.
    env = archive_env | {"GRIDOS_ARCHIVE_AFTER_DAYS": "7"}
    app = create_app(make_settings(env, rollup_retention_days=9))
    with TestClient(app, headers=tokens.header("admin")) as c:
        yield c


def _count_before(client: TestClient, before_days_ago: int, table: str = "samples", ts: str = "ts") -> int:
    """Rows of `table` (the samples view, or rollups_1m by `bucket`) older than midnight `before_days_ago`."""
    engine = client.app.state.services.engine  # type: ignore[attr-defined]
    limit = int(midnight(before_days_ago).timestamp()) * 1_000_000
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table} WHERE {ts} < :l"), {"l": limit}).scalar())


def _catalog(client: TestClient) -> list:
    engine = client.app.state.services.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        return conn.execute(select(archive_files).order_by(archive_files.c.day, archive_files.c.site)).all()


def test_archive_then_identical_answers(cold_client: TestClient) -> None:
    stored = seed(cold_client)
    queries = history_queries()
    before = answers(cold_client, queries)
    archived_hot = _count_before(cold_client, 7)
    assert archived_hot > 0

    report = cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]

    assert report.skipped is None
    assert len(report.days) == 4  # 11, 10, 9 and 8 days ago; 7 days ago is not closed long enough
    assert report.files == 8  # per day: one file per site
    assert report.rows == archived_hot and len(report.hot_deleted_days) == 4
    assert _count_before(cold_client, 7) == 0
    catalog = _catalog(cold_client)
    assert {(r.site, r.state) for r in catalog} == {("north", ACTIVE), ("south", ACTIVE)}
    assert sum(r.rows for r in catalog) == archived_hot
    assert all(len(r.sha256) == 64 and r.bytes > 0 for r in catalog)

    # An archived day keeps only its Parquet bytes: its rollups left with its hot rows, and its
    # whole-minute buckets (1 h and 1 d steps below) now come from the files.
    assert (
        _count_before(cold_client, 7, "rollups_1m", "bucket")
        == 0
        < _count_before(cold_client, 0, "rollups_1m", "bucket")
    )

    after = answers(cold_client, queries)
    for q, b, a in zip(queries, before, after, strict=True):
        assert a == b, q
    # The whole range, raw, really is the same number of points: nothing lost, nothing doubled.
    full = after[0]
    assert len(full["points"]) == stored // 6  # 3 devices x 2 measurements

    rerun = cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]
    assert rerun.files == 0 and rerun.days == []
    assert [(r.path, r.sha256) for r in _catalog(cold_client)] == [(r.path, r.sha256) for r in catalog]


def test_late_samples_are_merged_into_the_next_generation(cold_client: TestClient) -> None:
    seed(cold_client)
    cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]
    day = midnight(9)
    late_ts = day + timedelta(hours=3, minutes=5)  # between two archived samples
    dup_ts = day + timedelta(hours=3)  # an archived sample's key, with another value
    r = cold_client.post(
        "/api/v1/scada/data",
        json=[
            {"device_id": "north/feeder-1", "timestamp": late_ts.isoformat(), "voltage": 12345.5},
            {"device_id": "north/feeder-1", "timestamp": dup_ts.isoformat(), "voltage": 1.0},
        ],
    )
    assert r.status_code == 200, r.text
    window = {
        "device_id": "north/feeder-1",
        "measurement": "voltage",
        "from": (day + timedelta(hours=2)).isoformat(),
        "to": (day + timedelta(hours=4)).isoformat(),
    }
    seen = cold_client.get("/api/v1/scada/data", params=window).json()["points"]
    # The late sample shows at once; the archived copy of a key wins over a second write, as in the hot tier.
    assert [p["value"] for p in seen if p["ts"].startswith(late_ts.isoformat()[:16])] == [12345.5]
    assert 1.0 not in [p["value"] for p in seen]
    # Whole-minute buckets of an archived day merge its late hot rows with the Parquet files.
    minutes = cold_client.get("/api/v1/scada/data", params=window | {"step": "1m"}).json()
    assert minutes["source"] == "rollup_1m"
    late_bucket = [b for b in minutes["buckets"] if b["ts"].startswith(late_ts.isoformat()[:16])]
    assert [(b["max"], b["count"]) for b in late_bucket] == [(12345.5, 1)]

    report = cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]
    assert report.files == 1 and report.days == [day.date().isoformat()]
    assert cold_client.get("/api/v1/scada/data", params=window).json()["points"] == seen
    catalog = [r for r in _catalog(cold_client) if r.day == day.date() and r.site == "north"]
    assert [(r.generation, r.state) for r in catalog] == [(2, ACTIVE)]
    storage = cold_client.app.state.services.archiver.storage  # type: ignore[attr-defined]
    names = storage.list(f"samples/day={day.date().isoformat()}")
    assert names == [
        f"samples/day={day.date().isoformat()}/site=north/part-g0002.parquet",
        f"samples/day={day.date().isoformat()}/site=south/part-g0001.parquet",
    ]


def test_parquet_layout_is_sorted_compressed_with_statistics(cold_client: TestClient) -> None:
    seed(cold_client)
    cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]
    entry = _catalog(cold_client)[0]
    storage = cold_client.app.state.services.archiver.storage  # type: ignore[attr-defined]
    path = storage.local_copy(entry.path, entry.sha256)
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == entry.rows
    col = meta.row_group(0).column(2)
    assert col.path_in_schema == "ts" and col.compression == "ZSTD"
    assert col.statistics is not None and col.statistics.has_min_max
    table = pq.read_table(path)
    keys = row_keys(table)
    assert keys == sorted(keys)
    assert str(table.schema.field("ts").type) == "timestamp[us, tz=UTC]"


def test_the_service_archives_on_its_schedule(make_settings, tokens, tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = {"location": str(tmp_path / "archive"), "after_days": 7, "interval_seconds": 0.3}
    with TestClient(create_app(make_settings(archive=archive)), headers=tokens.header("admin")) as client:
        seed(client)
        deadline = time.monotonic() + 30
        while _count_before(client, 7) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _count_before(client, 7) == 0
        assert len(_catalog(client)) == 8


def test_archiving_after_the_hot_retention_is_refused(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    archive = {"location": str(tmp_path / "archive"), "after_days": 30}
    with pytest.raises(
        ValueError, match=r"GRIDOS_ARCHIVE_AFTER_DAYS \(30\) must be less than GRIDOS_RETENTION_DAYS \(30\)"
    ):
        create_app(make_settings(retention_days=30, archive=archive))


def test_an_unreachable_archive_is_a_503_and_loses_nothing(cold_client: TestClient) -> None:
    seed(cold_client)
    cold_client.app.state.services.archiver.run()  # type: ignore[attr-defined]
    entry = _catalog(cold_client)[0]
    storage = cold_client.app.state.services.archiver.storage  # type: ignore[attr-defined]
    data = storage.get(entry.path)
    storage.delete(entry.path)
    for cached in storage.cache_dir.rglob("*.parquet") if hasattr(storage, "cache_dir") else []:
        cached.unlink()
    params = {
        "device_id": "north/feeder-1",
        "measurement": "voltage",
        "from": midnight(11).isoformat(),
        "to": midnight(10).isoformat(),
    }
    r = cold_client.get("/api/v1/scada/data", params=params)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert entry.path in r.json()["detail"]
    # Hot days still answer; once the file is back, so do cold ones.
    hot = cold_client.get(
        "/api/v1/scada/data", params=params | {"from": midnight(6).isoformat(), "to": midnight(5).isoformat()}
    )
    assert hot.status_code == 200 and hot.json()["points"]
    storage.put(entry.path, data)
    assert cold_client.get("/api/v1/scada/data", params=params).status_code == 200
