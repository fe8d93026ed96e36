"""Inhibition, which amtool cannot test: a real Alertmanager (Debian package) receives a page and tickets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.postgres import free_port
from tests.support.process import http_ok, stop, wait_ready
from tests.support.wait import eventually

CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "monitoring" / "alertmanager" / "alertmanager.yml"
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")

pytestmark = pytest.mark.skipif(BINARY is None, reason="Alertmanager is not installed (make system-deps)")


def alert(name: str, severity: str, namespace: str, slo: str | None = None) -> dict[str, object]:
    labels = {"alertname": name, "severity": severity, "namespace": namespace}
    if slo:
        labels["slo"] = slo
    return {"labels": labels, "annotations": {"summary": name}}


def test_slo_page_inhibits_its_ticket_only(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets" / "gridos-alert-receivers"
    secrets.mkdir(parents=True)
    for name in ("smtp-password", "pagerduty-routing-key", "slack-webhook-url"):
        (secrets / name).write_text("http://127.0.0.1:1/unused\n")
    config = tmp_path / "alertmanager.yml"
    config.write_text(
        CONFIG.read_text().replace("/etc/alertmanager/secrets/gridos-alert-receivers", str(secrets))
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(BINARY),
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "am.log").open("wb"),
    )
    try:
        wait_ready(proc, http_ok(f"{url}/-/ready"), "alertmanager", tmp_path / "am.log", timeout=10)
        alerts = [
            alert("GridOSAvailabilityBurnRateCritical", "page", "gridos", "availability"),
            alert("GridOSAvailabilityBurnRateTicket", "ticket", "gridos", "availability"),
            alert("GridOSLatencyBurnRateTicket", "ticket", "gridos", "latency"),
            alert("GridOSAvailabilityBurnRateTicket", "ticket", "staging", "availability"),
            alert("GridOSAlarmFlood", "ticket", "gridos"),
        ]
        httpx.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

        def inhibitions() -> dict[tuple[str, str], list[str]] | None:
            got = httpx.get(f"{url}/api/v2/alerts", timeout=5).json()
            state = {
                (a["labels"]["alertname"], a["labels"]["namespace"]): a["status"]["inhibitedBy"] for a in got
            }
            done = len(state) == len(alerts) and state[("GridOSAvailabilityBurnRateTicket", "gridos")]
            return state if done else None

        state = eventually(inhibitions, timeout=5, interval=0.1, what="all alerts, the ticket inhibited")
        assert state[("GridOSAvailabilityBurnRateTicket", "gridos")]  # same SLO, same namespace: inhibited
        assert not state[("GridOSLatencyBurnRateTicket", "gridos")]  # other SLO
        assert not state[("GridOSAvailabilityBurnRateTicket", "staging")]  # other namespace
        assert not state[("GridOSAlarmFlood", "gridos")]  # not an SLO alert
        assert not state[("GridOSAvailabilityBurnRateCritical", "gridos")]
    finally:
        stop(proc)
