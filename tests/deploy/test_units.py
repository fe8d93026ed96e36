"""Pieces of gridctl validate on their own: the PromQL metric-name extractor, the /metrics parser, the
AnalysisTemplate contract the canary gate relies on, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gridctl.manifests.promql import metric_names
from gridctl.manifests.reference import exported_metric_names
from gridctl.manifests.render import Target, discover_targets, render
from tests.support.manifests import ROOT, Repo


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum(rate(http_requests_total{status=~"5.."}[5m]))', {"http_requests_total"}),
        (
            'histogram_quantile(0.95, sum by (le) (rate(x_bucket{a="{{args.b}}"}[{{args.w}}])))',
            {"x_bucket"},
        ),
        (
            "(sum(rate(a_total[1m])) or vector(0)) / on(namespace) group_left(le) b:rec offset 5m",
            {"a_total", "b:rec"},
        ),
        ("sum without (instance) (x) > bool 3 unless y and up == 0", {"x", "y", "up"}),
        (
            "max(rate(process_cpu_seconds_total[2m])) / {{args.cpu-limit-cores}} > 1e3",
            {"process_cpu_seconds_total"},
        ),
        ('label_replace(z, "dst", "$1", "src", "(.*)")', {"z"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_exported_metric_names_include_declared_but_unobserved_series() -> None:
    text = (
        "# HELP http_requests_total Requests\n# TYPE http_requests_total counter\n"
        '# TYPE lat_seconds histogram\nlat_seconds_bucket{le="0.1"} 1\n# TYPE up_gauge gauge\nup_gauge 1\n'
    )
    names = exported_metric_names(text)
    assert {
        "http_requests_total",
        "lat_seconds_bucket",
        "lat_seconds_count",
        "lat_seconds_sum",
        "up_gauge",
    } <= names
    assert "lat_seconds_total" not in names


def test_rendered_analysis_templates_keep_the_canary_gate_contract() -> None:
    """tests/canary switches to `kubectl kustomize deploy/k8s/overlays/prod` output: names, args and the
    no-data handling it relies on must stay."""
    (prod,) = [t for t in discover_targets(ROOT) if t.name == "deploy/k8s/overlays/prod"]
    templates = {o.name: o.doc for o in render(prod, ROOT) if o.kind == "AnalysisTemplate"}
    assert {"gridos-error-rate", "gridos-latency-p95", "gridos-cpu-saturation"} <= set(templates)
    for name in ("gridos-error-rate", "gridos-latency-p95", "gridos-cpu-saturation"):
        args = {a["name"]: a.get("value") for a in templates[name]["spec"]["args"]}
        assert {
            "canary-hash",
            "namespace",
            "prometheus-address",
            "interval",
            "count",
            "initial-delay",
            "rate-window",
        } <= set(args)
        assert args["canary-hash"] is None and args["prometheus-address"], args
        for metric in templates[name]["spec"]["metrics"]:
            assert "len(result)" in metric["successCondition"] and "isNaN" in metric["successCondition"]
    query = templates["gridos-error-rate"]["spec"]["metrics"][0]["provider"]["prometheus"]["query"]
    assert "or vector(0)" in query


def test_files_target_reads_plain_manifests(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: n\n---\nfoo: bar\n")
    objs = render(Target("t", tmp_path, None, kind="files"), tmp_path)
    assert [(o.source, o.ref) for o in objs] == [("a.yaml", "Namespace/n")]


def gridctl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gridctl.cli", "validate", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
    )


def test_cli_rejects_an_unknown_step() -> None:
    proc = gridctl("--skip", "lint")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "gridctl validate: --skip 'lint': expected one of schema, semantic, metrics, policies, checkov"
    ]


def test_cli_json_report_and_exit_code_on_findings(repo: Repo) -> None:
    repo.plant(
        "deploy/k8s/base/service-stable.yaml",
        "    app.kubernetes.io/component: api\n  ports",
        "    app.kubernetes.io/component: web\n  ports",
    )
    proc = gridctl(
        "--root",
        str(repo.root),
        "-t",
        "dev",
        "--skip",
        "checkov",
        "--skip",
        "policies",
        "--gridos-url",
        repo.gridos_url,
        "-o",
        "json",
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["targets"] == ["deploy/k8s/overlays/dev"] and report["metricsFrom"] == repo.gridos_url
    assert [(f["file"], f["object"], f["check"]) for f in report["findings"]] == [
        ("deploy/k8s/base/service-stable.yaml", "Service/gridos-stable", "selector")
    ]


def test_cli_text_output_one_finding_per_line(repo: Repo) -> None:
    repo.plant(
        "deploy/k8s/base/rollout.yaml", "progressDeadlineAbort: true", "progressDeadlineAbort: yes please"
    )
    proc = gridctl(
        "--root", str(repo.root), "-t", "prod", "--skip", "checkov", "--gridos-url", repo.gridos_url
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "deploy/k8s/base/rollout.yaml: Rollout/gridos [deploy/k8s/overlays/prod]: schema: "
        "spec.progressDeadlineAbort: 'yes please' is not of type 'boolean'"
    ]
    assert "1 findings" in proc.stderr


def test_validate_starts_its_own_gridos_for_the_metrics() -> None:
    from gridctl.manifests.validate import ValidationOptions, validate

    report = validate(
        ValidationOptions(ROOT, skip=frozenset({"schema", "policies", "checkov"}), targets=("dev",))
    )
    assert report.ok, report.findings
    assert "metrics" in report.steps and (report.metrics_source or "").startswith("http://127.0.0.1:")


def test_cli_exit_2_when_gridos_cannot_start() -> None:
    proc = gridctl(
        "-t", "dev", "--skip", "checkov", "--gridos-command", f"{sys.executable} -c 'raise SystemExit(3)'"
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("gridctl validate: GridOS exited with 3"), proc.stderr
