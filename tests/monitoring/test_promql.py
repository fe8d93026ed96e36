"""Every PromQL expression in rules, dashboards and AnalysisTemplates parses (promtool) and references only
metrics GridOS exports (docs/contract.md) or recording rules defined here; generated files are current."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gridctl.manifests.promql import metric_names

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "deploy" / "monitoring"
PROMTOOL = shutil.which("promtool")

# Deliberate exceptions, each documented in docs/observability.md.
OUTSIDE_METRICS = {"up", "rollout_info"}


def contract_metrics() -> set[str]:
    """Metric names of docs/contract.md with the series names their types add (_bucket, _count, _sum)."""
    text = (ROOT / "docs" / "contract.md").read_text()
    section = text.split("## Metrics", 1)[1]
    names: set[str] = set()
    for row in section.splitlines():
        if not row.startswith("| `"):
            continue
        cells = [c.strip() for c in row.strip("|").split("|")]
        kind = cells[1] if len(cells) > 1 else ""
        for name in re.findall(r"`([a-z_:]+)`", cells[0]):
            names.add(name)
            if kind.startswith("histogram"):
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
    return names


def recording_rules() -> set[str]:
    names = set()
    for path in (MONITORING / "rules").glob("*.rules.yaml"):
        for group in YAML(typ="safe").load(path.read_text())["groups"]:
            names |= {r["record"] for r in group["rules"] if "record" in r}
    return names


def rule_exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted((MONITORING / "rules").glob("*.rules.yaml")):
        for group in YAML(typ="safe").load(path.read_text())["groups"]:
            for rule in group["rules"]:
                found.append((f"{path.name}:{rule.get('record') or rule.get('alert')}", rule["expr"]))
    return found


def grafana_to_promql(expr: str) -> str:
    # Grafana's variables become values Prometheus accepts, so promtool parses what Grafana would send.
    return expr.replace("$__rate_interval", "1m").replace("$namespace", "gridos").replace("$site", ".*")


def dashboard_exprs() -> list[tuple[str, str]]:
    found = []
    for path in sorted((MONITORING / "dashboards").glob("*.json")):
        body = json.loads(path.read_text())
        for p in body["panels"]:
            for t in p.get("targets", []):
                found.append((f"{path.name}:{p['title']}", grafana_to_promql(t["expr"])))
    return found


def analysis_template_exprs() -> list[tuple[str, str]]:
    """Queries of the AnalysisTemplates every overlay renders, with every {{args.x}} replaced by a sample value
    of the right shape. An overlay that does not render is an error here too, not a silent skip."""
    kubectl = shutil.which("kubectl")
    assert kubectl, "kubectl (with kustomize) is needed to render deploy/k8s/overlays"
    rendered = []
    overlays = ROOT / "deploy" / "k8s" / "overlays"
    for overlay in sorted(p for p in overlays.iterdir() if (p / "kustomization.yaml").exists()):
        proc = subprocess.run(
            [kubectl, "kustomize", str(overlay)], capture_output=True, text=True, check=True
        )
        rendered.append((overlay.name, proc.stdout))
    assert {name for name, _ in rendered} >= {"dev", "staging", "prod"}
    found = []

    def sample(name: str) -> str:
        if any(k in name for k in ("window", "interval", "duration", "delay")):
            return "1m"
        if any(k in name for k in ("limit", "count", "cores", "threshold")):
            return "1"
        return "x"

    docs: list[tuple[str, dict[str, Any]]] = []
    for overlay, text in rendered:
        docs += [
            (f"overlay {overlay}", d)
            for d in YAML(typ="safe").load_all(text)
            if isinstance(d, dict) and d.get("kind") in ("AnalysisTemplate", "ClusterAnalysisTemplate")
        ]
    for where, doc in docs:
        for metric in doc["spec"].get("metrics") or []:
            prom = (metric.get("provider") or {}).get("prometheus")
            if prom:
                query = re.sub(r"\{\{\s*args\.([\w.-]+)\s*\}\}", lambda m: sample(m.group(1)), prom["query"])
                found.append((f"{where}:{doc['metadata']['name']}/{metric['name']}", query))
    return found


ALL = rule_exprs() + dashboard_exprs() + analysis_template_exprs()


def test_every_kind_of_source_is_checked() -> None:
    kinds = {where.split(":")[0].rsplit(".", 1)[-1] for where, _ in ALL}
    assert {"yaml", "json"} <= kinds
    assert any("gridos-error-rate" in where for where, _ in ALL)


@pytest.mark.parametrize(("where", "expr"), ALL, ids=[w for w, _ in ALL])
def test_only_exported_metrics(where: str, expr: str) -> None:
    allowed = contract_metrics() | recording_rules() | OUTSIDE_METRICS
    # docs/contract.md: "process_cpu_seconds_total and the other process_* / python_* defaults".
    unknown = {n for n in metric_names(expr) - allowed if not n.startswith(("process_", "python_"))}
    assert not unknown, f"{where} references {sorted(unknown)}, which GridOS does not export"


def test_extractor_catches_a_wrong_name() -> None:
    # The check above is only as good as this: a typo and a kube-state-metrics name must both be caught.
    assert metric_names('sum by (route) (rate(http_request_total{status=~"5.."}[5m]))') == {
        "http_request_total"
    }
    assert "kube_pod_container_status_restarts_total" in metric_names(
        "increase(kube_pod_container_status_restarts_total[1h]) > 3 and on (namespace) gridos_db_up == 0"
    )


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (make system-deps)")
def test_every_expression_parses(tmp_path: Path) -> None:
    # promtool parses expressions through a rules file: one recording rule per expression.
    rules = {
        "groups": [
            {
                "name": "all",
                "rules": [{"record": f"check:expr_{i}", "expr": e} for i, (_, e) in enumerate(ALL)],
            }
        ]
    }
    path = tmp_path / "all.rules.yaml"
    with path.open("w") as fh:
        YAML().dump(rules, fh)
    proc = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        bad = [w for i, (w, _) in enumerate(ALL) if f'"check:expr_{i}"' in proc.stderr + proc.stdout]
        pytest.fail(f"promtool rejects {bad or 'some expressions'}:\n{proc.stdout}{proc.stderr}")


def test_generated_files_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(MONITORING / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
