"""`gridctl analyze` as a process, against a real Prometheus answering constant queries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.prometheus import PrometheusServer, start_prometheus

FIXTURE = Path(__file__).parent / "fixtures" / "constant-template.yaml"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with start_prometheus(tmp_path_factory.mktemp("prom")) as server:
        yield server


def gridctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridctl.cli", "analyze", *args], capture_output=True, text=True, timeout=60
    )


def analyze(prometheus: PrometheusServer, *args: str) -> subprocess.CompletedProcess[str]:
    return gridctl("--prometheus", prometheus.url, "-t", str(FIXTURE), "--arg", "interval=100ms", *args)


def test_healthy_value_is_successful(prometheus: PrometheusServer) -> None:
    proc = analyze(prometheus, "-n", "constant", "--arg", "value=0.01", "-o", "json")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["phase"] == "Successful"
    level = report["metricResults"][0]
    assert (level["name"], level["count"], level["successful"]) == ("level", 3, 3)


def test_bad_value_fails_at_the_first_measurement(prometheus: PrometheusServer) -> None:
    proc = analyze(prometheus, "-n", "constant", "--arg", "value=0.9", "-o", "json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert report["phase"] == "Failed"
    assert len(report["metricResults"][0]["measurements"]) == 1
    assert proc.stderr.strip().splitlines() == [
        "gridctl analyze: analysis Failed: metric 'level': failed (1) > failureLimit (0)"
    ]


def test_nan_passes_through_the_guard_and_dry_run_does_not_decide(prometheus: PrometheusServer) -> None:
    # 0/0 is NaN; the guarded condition passes it. The dryRun metric (shadow.*) fails on NaN but only reports.
    proc = analyze(prometheus, "-n", "constant", "--arg", "value=0/0", "--arg", "count=2", "-o", "json")
    assert proc.returncode == 0, proc.stdout
    results = {r["name"]: r for r in json.loads(proc.stdout)["metricResults"]}
    assert results["level"]["phase"] == "Successful"
    assert results["shadow-level"]["dryRun"] is True
    assert results["shadow-level"]["phase"] == "Failed"


def test_query_errors_end_in_error(prometheus: PrometheusServer) -> None:
    proc = gridctl("--prometheus", prometheus.url, "-t", str(FIXTURE), "-n", "broken-query")
    assert proc.returncode == 4
    assert "bad_data" in proc.stdout


def test_unreachable_prometheus_is_an_error_measurement() -> None:
    proc = gridctl("-t", str(FIXTURE), "-n", "broken-query")  # the template's own address: port 1
    assert proc.returncode == 4
    assert "consecutiveErrors (1) > consecutiveErrorLimit (0)" in proc.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-n", "constant"], "args.value was not resolved: pass --arg value=VALUE"),
        (["-n", "constant", "--arg", "value=1", "--arg", "vaule=2"], "arg 'vaule' is not declared"),
        (["-n", "nope"], "template 'nope' not found; available: broken-query, constant"),
        (["-n", "constant", "--arg", "value=1", "--arg", "interval=soon"], "invalid duration 'soon'"),
        (["-n", "constant", "--arg", "value=1", "--arg", "count=many"], "count: expected an integer"),
        (["-n", "constant", "--arg", "novalue"], "expected name=value"),
    ],
)
def test_template_errors_are_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = gridctl("-t", str(FIXTURE), *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_missing_file_is_one_line(tmp_path: Path) -> None:
    proc = gridctl("-t", str(tmp_path / "absent.yaml"))
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("gridctl analyze:") and "No such file" in proc.stderr
