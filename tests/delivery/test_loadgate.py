"""`gridctl loadgate` against a real GridOS on PostgreSQL: a small, short load passes bounded thresholds with
every request kind of the scenario exercised; a threshold the run cannot reach, or a token GridOS refuses,
fails it with the reason named. The benchmark-sized run is `make bench-load` (docs/benchmarks.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from gridctl.loadgate import LoadReport, Thresholds, evaluate
from tests.support.postgres import PostgresServer
from tests.support.servers import GridosServer, start_gridos

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def gridos_pg(postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    database = postgres.create_database()
    server = start_gridos(
        tmp_path_factory.mktemp("loadgate"),
        env={"GRIDOS_DATABASE_URL": postgres.url(database), "GRIDOS_LOG_LEVEL": "WARNING"},
        start=False,
    )
    with server.start(timeout=120):
        yield server


def loadgate(server: GridosServer, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRIDCTL_TOKEN": token}
    command = [sys.executable, "-m", "gridctl.cli", "loadgate", "--url", server.url, "--devices", "5", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_small_load_passes_and_exercises_every_request(gridos_pg: GridosServer, tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    result = loadgate(
        gridos_pg, gridos_pg.admin_token, "--register", "--users", "4", "--duration", "4",
        "--min-rps", "5", "--max-p95-ms", "3000", "--report", str(report_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["passed"] and report["failures"] == 0
    assert set(report["per_request"]) == {"ingest", "status", "history", "alarms"}
    assert all(r["requests"] > 0 for r in report["per_request"].values())
    # What was ingested is really stored: the history of a load meter has points.
    with gridos_pg.client() as client:
        r = client.get("/api/v1/scada/data", params={"device_id": "loadgate/meter-000"})
        assert r.status_code == 200 and r.json(), r.text


def test_unreachable_threshold_fails_with_the_reason(gridos_pg: GridosServer) -> None:
    result = loadgate(
        gridos_pg, gridos_pg.admin_token, "--register", "--users", "2", "--duration", "2",
        "--min-rps", "1000000",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-2000:]
    assert "FAILED: throughput" in result.stderr and "< 1e+06" in result.stderr


def test_refused_requests_fail_on_the_error_rate(gridos_pg: GridosServer) -> None:
    result = loadgate(gridos_pg, "not-a-token", "--users", "2", "--duration", "2", "--min-rps", "1")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "error rate 100.00% > 1.00%" in result.stderr


def test_missing_token_is_a_usage_error(gridos_pg: GridosServer) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GRIDCTL_TOKEN"}
    command = [sys.executable, "-m", "gridctl.cli", "loadgate", "--url", gridos_pg.url]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2 and "GRIDCTL_TOKEN" in result.stderr


def test_every_request_kind_must_have_run() -> None:
    report = LoadReport(10, 2, 100, 0, 2000.0, 10.0, 5.0, per_request={"ingest": {"requests": 100}})
    evaluate(report, Thresholds(), ("ingest", "status"))
    assert report.failed == ["request 'status' never ran"]
