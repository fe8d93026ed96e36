"""The canary gate, end to end: a real Prometheus scrapes a stable and a canary GridOS process labelled the way
the ServiceMonitor labels pods, both under load, and `gridctl analyze` runs the GridOS AnalysisTemplates on
them. A healthy canary passes; a canary with injected errors or latency fails within the promised intervals.

The templates come from `kubectl kustomize deploy/k8s/overlays/<env>` (never a copy of the queries).
Intervals are shortened only through the templates' own args.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gridctl.analysis import build_metrics, load_documents, resolve_args, select
from tests.canary.load import Load
from tests.support.prometheus import ScrapeTarget, start_prometheus
from tests.support.servers import GridosServer, start_gridos

pytestmark = [pytest.mark.canary, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ("gridos-error-rate", "gridos-latency-p95", "gridos-cpu-saturation")
OVERLAY = os.environ.get("GRIDOS_CANARY_OVERLAY", "prod")
STABLE_HASH, NAMESPACE = "6d4f8b7c9a", "gridos"
# Shortened schedule, applied to whichever of these args the templates declare.
SHORT_ARGS = {"interval": "3s", "count": "5", "initial-delay": "6s", "rate-window": "10s"}


def rendered_templates(tmp_path: Path) -> tuple[Path, str]:
    """The AnalysisTemplates of the overlay exactly as kustomize renders them for Argo Rollouts."""
    overlay = ROOT / "deploy" / "k8s" / "overlays" / OVERLAY
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is needed to render the overlay"
    out = subprocess.run(
        [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True
    ).stdout
    docs = [d for d in YAML(typ="safe").load_all(out) if isinstance(d, dict)]
    names = {d["metadata"]["name"] for d in docs if d.get("kind") == "AnalysisTemplate"}
    missing = set(TEMPLATES) - names
    assert not missing, f"deploy/k8s/overlays/{OVERLAY} renders no AnalysisTemplate {sorted(missing)}"
    path = tmp_path / f"rendered-{OVERLAY}.yaml"
    path.write_text(out)
    return path, f"kubectl kustomize deploy/k8s/overlays/{OVERLAY}"


def gate_args(path: Path, canary_hash: str) -> dict[str, str]:
    declared = set(select(load_documents([path]), list(TEMPLATES)).declared_args)
    args = {"canary-hash": canary_hash, "namespace": NAMESPACE, **SHORT_ARGS}
    return {k: v for k, v in args.items() if k in declared}


def failure_limits(path: Path) -> dict[str, int]:
    """What each metric promises: it fails after failureLimit + 1 failed measurements."""
    spec = select(load_documents([path]), list(TEMPLATES))
    metrics = build_metrics(spec, resolve_args(spec, gate_args(path, "x")))
    return {m.name: m.failure_limit for m in metrics}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("canary")


@pytest.fixture(scope="module")
def templates(workdir: Path) -> tuple[Path, str]:
    return rendered_templates(workdir)


@pytest.fixture(scope="module")
def stable(workdir: Path) -> Iterator[GridosServer]:
    home = workdir / "stable"
    home.mkdir()
    with start_gridos(
        home, env={"GRIDOS_UNKNOWN_DEVICE": "auto_register", "GRIDOS_LOG_LEVEL": "WARNING"}
    ) as server:
        load = Load(server).start()
        try:
            yield server
        finally:
            load.stop()


@dataclass
class GateResult:
    report: dict[str, Any]
    returncode: int
    load: Load

    def metric(self, name: str) -> dict[str, Any]:
        return next(r for r in self.report["metricResults"] if r["name"] == name)


def run_gate(
    workdir: Path, templates: tuple[Path, str], stable: GridosServer, name: str, env: dict[str, str]
) -> GateResult:
    canary_hash = f"{name}7f9c"
    home = workdir / name
    home.mkdir()
    canary_env = {"GRIDOS_UNKNOWN_DEVICE": "auto_register", "GRIDOS_LOG_LEVEL": "WARNING", **env}
    with start_gridos(home, env=canary_env) as canary:
        targets = [
            ScrapeTarget(
                f"127.0.0.1:{stable.port}",
                {"rollouts_pod_template_hash": STABLE_HASH, "namespace": NAMESPACE},
            ),
            ScrapeTarget(
                f"127.0.0.1:{canary.port}",
                {"rollouts_pod_template_hash": canary_hash, "namespace": NAMESPACE},
            ),
        ]
        with start_prometheus(home, targets, scrape_interval="1s") as prometheus:
            load = Load(canary).start()
            try:
                # The gate judges rates: start it once Prometheus has scraped the canary's traffic twice (on
                # a loaded machine the first measurement otherwise found no series and was Inconclusive).
                prometheus.wait_for(
                    f'sum(rate(http_requests_total{{rollouts_pod_template_hash="{canary_hash}"}}[30s])) > 0'
                )
                path, _source = templates
                argv = [f"--arg={k}={v}" for k, v in gate_args(path, canary_hash).items()]
                proc = subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "gridctl.cli",
                        "analyze",
                        "--prometheus",
                        prometheus.url,
                        "-t",
                        str(path),
                        *[f"--name={t}" for t in TEMPLATES],
                        *argv,
                        "-o",
                        "json",
                    ],
                    capture_output=True,
                    text=True,
                    timeout=180,
                )
            finally:
                load.stop()
    assert proc.stdout, proc.stderr
    result = GateResult(json.loads(proc.stdout), proc.returncode, load)
    print(f"\n[{name}] templates from {templates[1]}; load {load.requests} requests {load.statuses}")
    print(
        f"[{name}] phase {result.report['phase']} after {result.report['durationSeconds']}s: {result.report['message']}"
    )
    for r in result.report["metricResults"]:
        print(
            f"[{name}]   {r['name']}: {r['phase']} {[(m['atSeconds'], m['phase'], m['value']) for m in r['measurements']]}"
        )
    return result


def assert_detected_as_promised(gate: GateResult, path: Path, kind: str) -> None:
    """The metric watching this kind of fault failed, and did so after exactly failureLimit + 1 measurements,
    all failing: the fault was caught at the first opportunity the template allows."""
    failed = [r for r in gate.report["metricResults"] if r["phase"] == "Failed"]
    assert [r["name"] for r in failed if kind in r["name"]], gate.report
    limits = failure_limits(path)
    for r in failed:
        assert [m["phase"] for m in r["measurements"]] == ["Failed"] * (limits[r["name"]] + 1), r


def test_healthy_canary_passes(workdir: Path, templates: tuple[Path, str], stable: GridosServer) -> None:
    gate = run_gate(workdir, templates, stable, "healthy", {})
    assert gate.returncode == 0, gate.report
    assert gate.report["phase"] == "Successful"
    for r in gate.report["metricResults"]:
        assert r["phase"] == "Successful" and r["failed"] == 0, r
        assert r["count"] == int(SHORT_ARGS["count"])  # every promised measurement was taken, none skipped


def test_canary_with_errors_fails(workdir: Path, templates: tuple[Path, str], stable: GridosServer) -> None:
    gate = run_gate(workdir, templates, stable, "errors", {"GRIDOS_FAULT_ERROR_RATE": "0.05"})
    assert gate.load.statuses.get(500, 0) > 0  # the fault was really injected
    assert gate.returncode == 1
    assert gate.report["phase"] == "Failed"
    assert_detected_as_promised(gate, templates[0], "error")


def test_slow_canary_fails(workdir: Path, templates: tuple[Path, str], stable: GridosServer) -> None:
    gate = run_gate(workdir, templates, stable, "latency", {"GRIDOS_FAULT_LATENCY_MS": "400"})
    assert gate.returncode == 1
    assert gate.report["phase"] == "Failed"
    assert_detected_as_promised(gate, templates[0], "latency")
