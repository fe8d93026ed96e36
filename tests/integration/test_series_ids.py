"""Series ids on PostgreSQL: two processes registering the same new series at the same moment (replicas
receiving the first readings of a new site) both succeed and agree on every id."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text

from tests.support.postgres import PostgresServer

# Python randomises string hashing per process, so each process walks the same set in its own order:
# exactly how two replicas see one batch's series.
SCRIPT = """
import sys, time
from sqlalchemy import create_engine
from gridos.telemetry.store import SampleStore
url, start = sys.argv[1], float(sys.argv[2])
store = SampleStore(create_engine(url))
total, distinct = 0, set()
for r in range(ROUNDS):  # fresh series each round, both processes starting it at the same instant
    keys = {(f"site-{r}/dev-{i}", m) for i in range(400) for m in ("voltage", "current", "frequency")}
    time.sleep(max(0.0, start + r - time.time()))
    ids = store.series_ids(keys)
    total += sum(i * ids[k] for i, k in enumerate(sorted(keys)))
    distinct |= set(ids.values())
print(total, len(distinct))
""".replace("ROUNDS", "5")


@pytest.mark.postgres
def test_concurrent_registration_of_the_same_series(postgres: PostgresServer) -> None:
    name = postgres.create_database(template=postgres.template)  # type: ignore[attr-defined]
    url = postgres.url(name)
    start = time.time() + 4  # both have imported by then, so their inserts overlap
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, url, str(start)],
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("1", "2")
    ]
    results = [p.communicate(timeout=90) for p in procs]
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err[-2000:]
    assert results[0][0] == results[1][0]  # the same ids, all 6,000 distinct
    assert results[0][0].split()[1] == "6000"
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM series")).scalar_one() == 6000
    engine.dispose()
    postgres.drop_database(name)
