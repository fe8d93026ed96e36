"""The peer benchmark's reading of InfluxDB 1.6's directories (benchmarks/influxdb.py): it decides when the
"old data" bytes are measured, so a wrong reading would measure the WAL instead of the compacted TSM."""

from __future__ import annotations

from pathlib import Path

from benchmarks.influxdb import storage_layout


def touch(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def test_layout_is_settled_only_when_the_wal_is_empty_and_no_compaction_writes(tmp_path: Path) -> None:
    data, wal = tmp_path / "data", tmp_path / "wal"
    touch(data / "bench/_series/00/0000", 4096)  # the series file: not a shard
    touch(data / "bench/autogen/1/fields.idx", 89)
    touch(data / "bench/autogen/1/000000001-000000001.tsm", 1000)
    touch(data / "bench/autogen/2/000000003-000000002.tsm", 300)
    touch(data / "other/autogen/3/000000001-000000001.tsm", 7)  # another database
    touch(wal / "bench/autogen/1/_00001.wal", 500)

    layout = storage_layout(data, wal, "bench")
    assert layout.tsm == {
        "autogen/1": {"000000001-000000001.tsm": 1000},
        "autogen/2": {"000000003-000000002.tsm": 300},
    }
    assert (layout.tsm_files, layout.tsm_bytes) == (2, 1300)
    assert layout.wal_segments == {"bench/autogen/1/_00001.wal": 500}
    assert not layout.settled

    # After a snapshot InfluxDB removes the covered segments and opens an empty one.
    (wal / "bench/autogen/1/_00001.wal").unlink()
    touch(wal / "bench/autogen/1/_00002.wal", 0)
    assert storage_layout(data, wal, "bench").settled

    touch(data / "bench/autogen/1/000000002-000000002.tsm.tmp", 10)
    compacting = storage_layout(data, wal, "bench")
    assert compacting.compacting == ("bench/autogen/1/000000002-000000002.tsm.tmp",)
    assert not compacting.settled
