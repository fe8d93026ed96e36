"""gridctl smoke, monitor and budget against real GridOS processes (one healthy, one started with
GRIDOS_FAULT_ERROR_RATE=1) and a real Prometheus scraping them."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gridctl.delivery.probes import SmokeTest
from tests.delivery.gitops import digest, gridctl, image
from tests.support.postgres import free_port
from tests.support.prometheus import PrometheusServer, ScrapeTarget, start_prometheus
from tests.support.servers import GridosServer, start_gridos

FAST = ("--delay", "0s")


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    # A generous start-up timeout: the whole suite runs on one loaded machine in CI.
    with start_gridos(tmp_path_factory.mktemp("healthy"), start=False).start(timeout=120) as server:
        yield server


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    """A bad build on demand: every /api/ request answers 500, the probes stay green."""
    pending = start_gridos(tmp_path_factory.mktemp("faulty"), {"GRIDOS_FAULT_ERROR_RATE": "1"}, start=False)
    with pending.start(timeout=120) as server:
        yield server


def test_smoke_passes_against_a_healthy_gridos_and_reads_its_sample_back(healthy: GridosServer) -> None:
    with healthy.client() as c:
        devices_before = c.get("/api/v1/devices").json()["items"]
        sites_before = [s["site"] for s in c.get("/api/v1/scada/status").json()["sites"]]
    result = gridctl("smoke", "--url", healthy.url, "--token", healthy.admin_token, "--json", *FAST)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] is True
    assert [c["name"] for c in report["checks"]] == [
        "health",
        "health-db",
        "scada-status",
        "metrics",
        "ingest-read-back",
    ]
    assert all(c["ok"] and c["attempts"] == 1 for c in report["checks"])
    assert "stored and read back test-device voltage=230" in report["checks"][-1]["detail"]
    assert "removed again" in report["checks"][-1]["detail"]
    # Smoke leaves the system as it found it: no test device, no "smoke" site, nothing to alarm on later.
    with healthy.client() as c:
        assert c.get("/api/v1/devices/test-device").status_code == 404
        assert c.get("/api/v1/devices").json()["items"] == devices_before
        assert [s["site"] for s in c.get("/api/v1/scada/status").json()["sites"]] == sites_before
        assert c.get("/api/v1/alarms", params={"device_id": "test-device"}).json()["items"] == []

    # The token may come from the environment. A device the operators registered themselves (e.g. for an
    # operator token, which cannot register) is used and left in place.
    with healthy.client() as c:
        c.put("/api/v1/devices/test-device", json={"type": "meter", "site": "lab"}).raise_for_status()
    again = gridctl_env({"GRIDCTL_TOKEN": healthy.admin_token}, "smoke", "--url", healthy.url, *FAST)
    assert again.returncode == 0, again.stderr
    assert "smoke passed" in again.stdout and "removed again" not in again.stdout
    with healthy.client() as c:
        latest = c.get("/api/v1/devices/test-device/latest").json()
        assert latest["measurements"]["voltage"]["value"] == 230
        assert c.delete("/api/v1/devices/test-device").status_code == 204


def gridctl_env(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    mp = pytest.MonkeyPatch()
    try:
        for key, value in env.items():
            mp.setenv(key, value)
        return gridctl(*args)
    finally:
        mp.undo()


def test_smoke_fails_with_one_line_after_its_retries(faulty: GridosServer) -> None:
    result = gridctl(
        "smoke", "--url", faulty.url, "--token", faulty.admin_token, "--tries", "3", *FAST, "--json"
    )
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["passed"] is False
    failed = report["checks"][-1]
    assert failed["name"] == "scada-status" and failed["attempts"] == 3
    assert "HTTP 500" in failed["detail"] and "Injected fault" in failed["detail"]
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("gridctl smoke: scada-status failed after 3 tries: HTTP 500")


def test_smoke_without_token_or_server_fails_clearly(healthy: GridosServer) -> None:
    no_token = gridctl("smoke", "--url", healthy.url, "--tries", "1")
    assert no_token.returncode == 1
    assert "needs a token (--token or GRIDCTL_TOKEN)" in no_token.stderr
    nobody = gridctl("smoke", "--url", f"http://127.0.0.1:{free_port()}", "--tries", "2", *FAST)
    assert nobody.returncode == 1
    assert nobody.stderr.startswith("gridctl smoke: health failed after 2 tries: ConnectError")
    bad = gridctl("smoke", "--url", healthy.url, "--delay", "ten seconds")
    assert bad.returncode == 2 and "invalid duration" in bad.stderr


def test_monitor_reports_healthy(healthy: GridosServer) -> None:
    result = gridctl(
        "monitor",
        "--url",
        healthy.url,
        "--token",
        healthy.admin_token,
        "--checks",
        "3",
        "--interval",
        "10ms",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["healthy"] is True and report["checks_run"] == 3 and report["failures"] == 0


def test_monitor_catches_a_fault_injected_gridos_and_the_rollback_follows(
    faulty: GridosServer, repo: Path
) -> None:
    # Probes alone stay green on this build: the API is what fails.
    assert httpx.get(f"{faulty.url}/health/ready").status_code == 200
    result = gridctl(
        "monitor", "--url", faulty.url, "--token", faulty.admin_token,
        "--checks", "10", "--interval", "10ms", "--max-consecutive-failures", "3", "--json",
    )  # fmt: skip
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    assert report["checks_run"] == 3, "stops at the third consecutive failure, not after all ten"
    assert report["results"][0]["problems"] == ["/api/v1/scada/status: HTTP 500"]
    assert result.stderr.count("\n") == 1 and result.stderr.startswith(
        "gridctl monitor: unhealthy: 3 consecutive"
    )

    # What verify-deployment.yml does next: roll prod back to the previous verified image.
    for seed in ("v1", "v2"):
        gridctl("deploy", "--env", "prod", "--image", image(seed), "--source-commit", "f" * 40, cwd=repo)
        if seed == "v1":
            gridctl("ledger", "verify", "--env", "prod", "--check", "smoke", "--check", "monitor", cwd=repo)
    rolled = gridctl("rollback", "--env", "prod", "--json", cwd=repo)
    assert rolled.returncode == 0, rolled.stderr
    assert json.loads(rolled.stdout)["digest"] == digest("v1")


def test_monitor_tolerates_isolated_failures(tmp_path: Path) -> None:
    """Failures count only in a row: 2 failed rounds pass a limit of 3 and fail a limit of 2."""
    server = start_gridos(tmp_path, start=False)
    url = server.url
    result = gridctl(
        "monitor", "--url", url, "--checks", "2", "--interval", "10ms", "--max-consecutive-failures", "3"
    )
    # Nothing listens: both rounds fail, but 2 < 3 in a row.
    assert result.returncode == 0, result.stderr
    assert "2 failed, never 3 in a row" in result.stdout
    stopped = gridctl(
        "monitor", "--url", url, "--checks", "5", "--interval", "10ms", "--max-consecutive-failures", "2"
    )
    assert stopped.returncode == 1 and "ConnectError" in stopped.stderr


@pytest.fixture(scope="module")
def prometheus(
    tmp_path_factory: pytest.TempPathFactory, healthy: GridosServer, faulty: GridosServer
) -> Iterator[PrometheusServer]:
    targets = [
        ScrapeTarget(f"127.0.0.1:{healthy.port}", {"namespace": "healthy"}),
        ScrapeTarget(f"127.0.0.1:{faulty.port}", {"namespace": "faulty"}),
    ]
    with start_prometheus(tmp_path_factory.mktemp("prometheus"), targets) as prom:
        # Series exist first, then traffic: increase() only counts what happens after the first scrape.
        for server in (healthy, faulty):
            server.client().get("/api/v1/scada/status")
        prom.wait_for('http_requests_total{namespace="faulty", status="500"}')
        prom.wait_for('http_requests_total{namespace="healthy", route="/api/v1/scada/status"}')
        for _ in range(20):
            for server in (healthy, faulty):
                server.client().get("/api/v1/scada/status")
        # Both namespaces past 15 (one of them alone made the old check pass while the other's traffic was
        # not scraped yet, and the healthy budget then saw ~2 requests).
        prom.wait_for(
            'count(sum by (namespace) (increase(http_requests_total{route=~"/api/.*"}[1h])) > 15) == 2'
        )
        prom.wait_for('count(increase(http_requests_total{route=~"/api/.*", status="500"}[1h]) > 15)')
        # ...and every request made above scraped (raw counters, no extrapolation): 21 per namespace.
        prom.wait_for(
            'count(sum by (namespace) (http_requests_total{route="/api/v1/scada/status"}) >= 21) == 2'
        )
        yield prom


def test_budget_untouched_for_a_healthy_service(prometheus: PrometheusServer) -> None:
    result = gridctl("budget", "--prometheus", prometheus.url, "--namespace", "healthy", "--json")
    assert result.returncode == 0, result.stderr
    budget = json.loads(result.stdout)
    assert budget["budget_minutes"] == 43.2, "99.9 % over 30 days"
    assert budget["errors"] == 0 and budget["requests"] > 15
    assert budget["remaining_minutes"] == 43.2 and budget["remaining_ratio"] == 1.0
    text = gridctl(
        "budget", "--prometheus", prometheus.url, "--namespace", "healthy", "--min-remaining", "0.5"
    )
    assert text.returncode == 0
    assert text.stdout.startswith("error budget 43.2 min per 30d at 99.9%: 43.2 min left (100.0%)")


def test_budget_exhausted_by_a_failing_service(prometheus: PrometheusServer) -> None:
    result = gridctl(
        "budget", "--prometheus", prometheus.url, "--namespace", "faulty", "--min-remaining", "0", "--json"
    )
    assert result.returncode == 1
    budget = json.loads(result.stdout)
    assert budget["error_ratio"] == pytest.approx(1.0)
    assert budget["remaining_minutes"] < -40000
    assert result.stderr.startswith("gridctl budget:") and "below 0.0%" in result.stderr
    # All namespaces together: one series of each, so neither 0 nor 1. increase() extrapolates each series
    # from its own scrape times and the estimate moves between calls, so the share of 21/42 is a band.
    both = json.loads(gridctl("budget", "--prometheus", prometheus.url, "--window", "1h", "--json").stdout)
    assert 0.25 < both["error_ratio"] < 0.75 and both["budget_minutes"] == 0.06


def test_budget_without_traffic_or_prometheus_is_an_error(prometheus: PrometheusServer) -> None:
    none = gridctl("budget", "--prometheus", prometheus.url, "--namespace", "nobody")
    assert none.returncode == 3
    assert none.stderr.strip().endswith("the error budget is unknown")
    down = gridctl("budget", "--prometheus", f"http://127.0.0.1:{free_port()}")
    assert down.returncode == 1 and down.stderr.count("\n") == 1
    bad = gridctl("budget", "--prometheus", prometheus.url, "--window", "a month")
    assert bad.returncode == 1 and "invalid duration" in bad.stderr


def test_smoke_retries_until_a_late_gridos_answers(tmp_path: Path) -> None:
    """The first tries hit a pod that is not up yet; GridOS starts during the back-off and smoke passes."""
    server = start_gridos(tmp_path, start=False)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            server.start(timeout=120)  # a loaded CI machine starts GridOS slowly

    try:
        smoke = SmokeTest(server.url, token=server.admin_token, tries=5, delay=10.0, backoff=2.0, sleep=sleep)
        report = smoke.run()
    finally:
        server.stop()
    assert report.passed, report
    assert report.checks[0].attempts == 3
    assert waits == [10.0, 20.0], "10 s apart by default, doubled by --backoff 2"
    assert all(c.attempts == 1 for c in report.checks[1:])
