"""InfluxDB 1.6 for the peer benchmark (benchmarks/peer.py): the Debian package's influxd started from a
generated config in a temporary directory, and its on-disk layout read back, so the benchmark can measure
its bytes right after a write (mostly WAL) and once the data is old (snapshotted and compacted to TSM).

Layout of InfluxDB 1.6 (tsm1 engine, inmem index): `<data>/<db>/<rp>/<shard id>/*.tsm` (compactions write
`*.tsm.tmp` first), `<data>/<db>/_series/` (the series file: sparse, preallocated segments),
`<wal>/<db>/<rp>/<shard id>/_NNNNN.wal`. A cache snapshot writes the cache to TSM and removes the WAL
segments it covered.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.postgres import free_port
from tests.support.process import http_ok, stop, wait_ready

INFLUXD = os.environ.get("INFLUXD", "/usr/bin/influxd")

# Once writes stop: the cache goes to TSM after SNAPSHOT_COLD_S, a shard with several TSM generations is
# fully compacted after FULL_COMPACTION_COLD_S (defaults 10m and 4h; `influxd config` lists the names).
SNAPSHOT_COLD_S = 5
FULL_COMPACTION_COLD_S = 10


@dataclass
class Influx:
    url: str
    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def wal_dir(self) -> Path:
        return self.root / "wal"

    def query(self, q: str, db: str | None = None) -> dict:
        r = httpx.post(f"{self.url}/query", params={"q": q} | ({"db": db} if db else {}), timeout=300)
        r.raise_for_status()
        return r.json()


def influx_config(root: Path, http_port: int, rpc_port: int) -> str:
    return f"""
reporting-disabled = true
bind-address = "127.0.0.1:{rpc_port}"

[meta]
  dir = "{root / "meta"}"
  logging-enabled = false

[data]
  dir = "{root / "data"}"
  wal-dir = "{root / "wal"}"
  wal-fsync-delay = "0s"
  index-version = "inmem"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "{SNAPSHOT_COLD_S}s"
  compact-full-write-cold-duration = "{FULL_COMPACTION_COLD_S}s"

[retention]
  enabled = false

[shard-precreation]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:{http_port}"
  auth-enabled = false
  log-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
"""


@contextlib.contextmanager
def running_influxdb() -> Iterator[Influx]:
    if not Path(INFLUXD).exists():
        raise SystemExit(f"{INFLUXD} not found: apt-get install influxdb (make system-deps)")
    root = Path(tempfile.mkdtemp(prefix="gridos-influx-"))
    http_port, rpc_port = free_port(), free_port()
    config = root / "influxdb.conf"
    config.write_text(influx_config(root, http_port, rpc_port))
    log = (root / "influxd.log").open("wb")
    proc = subprocess.Popen([INFLUXD, "run", "-config", str(config)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{http_port}"
    try:
        wait_ready(proc, http_ok(f"{url}/ping", status=204), "influxd", root / "influxd.log", timeout=60)
        yield Influx(url, root)
    finally:
        stop(proc, timeout=30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)


@dataclass(frozen=True)
class StorageLayout:
    """What one database holds on disk: TSM files per shard (path -> bytes), WAL segments, and the
    compactions in progress (`.tsm.tmp` files)."""

    tsm: dict[str, dict[str, int]]
    wal_segments: dict[str, int]
    compacting: tuple[str, ...]

    @property
    def settled(self) -> bool:
        """Everything is in TSM files: no WAL segment holds data and no compaction is writing."""
        return not any(self.wal_segments.values()) and not self.compacting

    @property
    def tsm_files(self) -> int:
        return sum(len(files) for files in self.tsm.values())

    @property
    def tsm_bytes(self) -> int:
        return sum(sum(files.values()) for files in self.tsm.values())


def storage_layout(data_dir: Path, wal_dir: Path, db: str) -> StorageLayout:
    tsm: dict[str, dict[str, int]] = {}
    compacting = []
    shards = (p for p in (data_dir / db).glob("*/*") if p.is_dir() and not p.parent.name.startswith("_"))
    for shard in sorted(shards):
        key = str(shard.relative_to(data_dir / db))
        tsm[key] = {f.name: f.stat().st_size for f in sorted(shard.glob("*.tsm"))}
        compacting += [str(f.relative_to(data_dir)) for f in sorted(shard.glob("*.tmp"))]
    wal = {str(f.relative_to(wal_dir)): f.stat().st_size for f in sorted((wal_dir / db).glob("*/*/*.wal"))}
    return StorageLayout(tsm, wal, tuple(compacting))


def wait_compacted(
    influx: Influx, db: str, settle_s: float = 15.0, timeout_s: float = 900.0
) -> StorageLayout:
    """Wait, after the last write, until the cache is snapshotted, full compaction has had its chance
    (FULL_COMPACTION_COLD_S) and the TSM files stayed the same for `settle_s`."""
    started = time.monotonic()
    earliest = started + FULL_COMPACTION_COLD_S + 2
    last, since = None, started
    while True:
        layout = storage_layout(influx.data_dir, influx.wal_dir, db)
        now = time.monotonic()
        if layout != last or not layout.settled:
            last, since = layout, now
        elif now >= earliest and now - since >= settle_s:
            return layout
        if now - started > timeout_s:
            raise RuntimeError(f"InfluxDB did not settle in {timeout_s:.0f} s: {layout}")
        time.sleep(1)
