"""A database outage degrades readiness and answers 503, never acknowledges what it did not commit,
and recovers by itself when the database returns."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tests.support.clock import iso, past
from tests.support.postgres import running_postgres
from tests.support.servers import start_gridos
from tests.support.wait import eventually

pytestmark = pytest.mark.postgres


def test_outage_and_recovery(tmp_path: Path) -> None:
    # fsync on: the server is stopped with -m immediate, which would lose unsynced commits.
    with running_postgres(fsync=True) as pg:
        db = pg.create_database()
        server = start_gridos(tmp_path, {"GRIDOS_DATABASE_URL": pg.url(db)})
        t0 = past(hours=1)
        with server, server.client() as c:
            c.put("/api/v1/devices/a", json={"type": "meter", "site": "s"}).raise_for_status()
            assert (
                c.post(
                    "/api/v1/scada/data",
                    json={"device_id": "a", "voltage": 1, "timestamp": iso(t0)},
                ).status_code
                == 200
            )
            pg.stop()
            r = c.post(
                "/api/v1/scada/data",
                json={"device_id": "a", "voltage": 2, "timestamp": iso(t0 + timedelta(seconds=1))},
            )
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json" and r.headers["retry-after"] == "5"
            assert c.get("/health/ready").status_code == 503
            assert c.get("/health/live").status_code == 200
            pg.start()
            eventually(lambda: c.get("/health/ready").status_code == 200)
            # The rejected sample was never acknowledged: the producer's retry now stores it.
            r = c.post(
                "/api/v1/scada/data",
                json={"device_id": "a", "voltage": 2, "timestamp": iso(t0 + timedelta(seconds=1))},
            )
            assert r.json() == {"accepted": 1, "stored": 1, "duplicates": 0}
            points = c.get(
                "/api/v1/scada/data",
                params={
                    "device_id": "a",
                    "from": iso(t0 - timedelta(hours=1)),
                    "to": iso(t0 + timedelta(hours=1)),
                },
            ).json()["points"]
            assert [p["value"] for p in points] == [1, 2]
