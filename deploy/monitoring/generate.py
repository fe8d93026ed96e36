"""Generate the Grafana dashboards (JSON) and the Kubernetes observability component from deploy/monitoring.

The rules, the Alertmanager configuration and the dashboard definitions below are the source; everything
under deploy/monitoring/dashboards/*.json and deploy/k8s/components/observability/generated/ is output.
`make monitoring-generate` writes it, tests/monitoring checks that the committed output is current.

    python deploy/monitoring/generate.py           # write
    python deploy/monitoring/generate.py --check   # exit 1 and list stale files
"""

from __future__ import annotations

import json
import sys
from io import StringIO
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DASHBOARDS = HERE / "dashboards"
COMPONENT = ROOT / "deploy" / "k8s" / "components" / "observability" / "generated"
LABELS = {"app.kubernetes.io/name": "gridos", "app.kubernetes.io/part-of": "gridos"}
DS = {"type": "prometheus", "uid": "${datasource}"}
NS = 'namespace="$namespace"'
API = f'{NS}, route=~"/api/.*"'


def panel(
    title: str,
    targets: list[tuple[str, str]],
    unit: str = "short",
    kind: str = "timeseries",
    width: int = 12,
    height: int = 8,
    description: str = "",
) -> dict[str, Any]:
    return {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "table", "placement": "bottom"}}
        if kind == "timeseries"
        else {},
        "targets": [
            {"datasource": DS, "expr": expr, "legendFormat": legend, "refId": chr(ord("A") + i)}
            for i, (expr, legend) in enumerate(targets)
        ],
        "gridPos": {"w": width, "h": height},
    }


def dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    extra_vars: list[dict[str, Any]] | None = None,
    description: str = "",
) -> dict[str, Any]:
    x = y = row_h = 0
    for i, p in enumerate(panels, start=1):
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"] = {"x": x, "y": y, "w": w, "h": h}
        x, row_h = x + w, max(row_h, h)
    variables: list[dict[str, Any]] = [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
        {
            "name": "namespace",
            "type": "query",
            "datasource": DS,
            "query": {"query": "label_values(gridos_build_info, namespace)", "refId": "ns"},
            "definition": "label_values(gridos_build_info, namespace)",
            "refresh": 2,
            "label": "Namespace",
        },
        *(extra_vars or []),
    ]
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["gridos"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": False,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": variables},
        "annotations": {"list": []},
        "panels": panels,
    }


def red() -> dict[str, Any]:
    rate = f"sum by (route) (rate(http_requests_total{{{NS}}}[$__rate_interval]))"
    errors = f'sum by (route) (rate(http_requests_total{{{NS}, status=~"5.."}}[$__rate_interval])) / {rate}'
    q = "histogram_quantile({q}, sum by (route, le) (rate(http_request_duration_seconds_bucket{{{ns}}}[$__rate_interval])))"
    return dashboard(
        "gridos-red",
        "GridOS / Service RED",
        [
            panel("Requests per second by route", [(rate, "{{route}}")], "reqps"),
            panel("Error ratio (5xx) by route", [(errors, "{{route}}")], "percentunit"),
            panel(
                "Responses by status",
                [(f"sum by (status) (rate(http_requests_total{{{NS}}}[$__rate_interval]))", "{{status}}")],
                "reqps",
            ),
            panel("p95 duration by route", [(q.format(q=0.95, ns=NS), "{{route}}")], "s"),
            panel(
                "p50 / p99 duration (API)",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{{{API}}}[$__rate_interval])))",
                        "p50",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{{API}}}[$__rate_interval])))",
                        "p99",
                    ),
                ],
                "s",
            ),
            panel(
                "Ingest: samples per second by source",
                [
                    (
                        f"sum by (source) (rate(gridos_samples_ingested_total{{{NS}}}[$__rate_interval]))",
                        "{{source}} stored",
                    ),
                    (
                        f"sum by (source) (rate(gridos_samples_duplicate_total{{{NS}}}[$__rate_interval]))",
                        "{{source}} duplicate",
                    ),
                    (
                        f"sum by (reason) (rate(gridos_ingest_rejected_total{{{NS}}}[$__rate_interval]))",
                        "rejected: {{reason}}",
                    ),
                ],
                "short",
            ),
            panel(
                "Database pool",
                [
                    (f"sum(gridos_db_pool_checked_out{{{NS}}})", "checked out"),
                    (f"sum(gridos_db_pool_size{{{NS}}})", "size"),
                    (f"sum(gridos_db_pool_overflow{{{NS}}})", "overflow"),
                ],
            ),
            panel(
                "Database up (pods)",
                [(f"sum(gridos_db_up{{{NS}}})", "up"), (f"count(gridos_db_up{{{NS}}})", "pods")],
            ),
        ],
        description="Rate, errors and duration of the GridOS HTTP API by route template.",
    )


def slo() -> dict[str, Any]:
    ns = f"{{{NS}}}"
    return dashboard(
        "gridos-slo",
        "GridOS / SLO and error budget",
        [
            panel(
                "Availability error budget remaining (30 d)",
                [(f"gridos:slo_availability:error_budget_remaining{ns}", "remaining")],
                "percentunit",
                "stat",
                6,
                6,
                "1 = untouched; alert at 0.5 (half of the 43.2 minutes burned)",
            ),
            panel(
                "Latency error budget remaining (30 d)",
                [(f"gridos:slo_latency:error_budget_remaining{ns}", "remaining")],
                "percentunit",
                "stat",
                6,
                6,
            ),
            panel(
                "Availability (30 d)",
                [(f"1 - gridos:sli_errors:ratio_rate30d{ns}", "availability")],
                "percentunit",
                "stat",
                6,
                6,
            ),
            panel(
                "p95 latency (5 m)",
                [(f"gridos:http_request_duration_seconds:p95_rate5m{ns}", "p95")],
                "s",
                "stat",
                6,
                6,
            ),
            panel(
                "Availability burn rate (x budget)",
                [
                    (f"gridos:sli_errors:ratio_rate{w}{ns} / 0.001", w)
                    for w in ("5m", "30m", "1h", "6h", "3d")
                ],
                "short",
                description="Pages at 14.4x (1 h and 5 m) and 6x (6 h and 30 m); ticket at 1x (3 d and 6 h).",
            ),
            panel(
                "Latency burn rate (x budget)",
                [(f"gridos:sli_slow:ratio_rate{w}{ns} / 0.05", w) for w in ("5m", "30m", "1h", "6h", "3d")],
                "short",
            ),
            panel(
                "Error ratio vs SLO",
                [(f"gridos:sli_errors:ratio_rate5m{ns}", "5xx ratio (5 m)"), ("vector(0.001)", "SLO 0.1 %")],
                "percentunit",
            ),
            panel(
                "Share of requests slower than 250 ms",
                [(f"gridos:sli_slow:ratio_rate5m{ns}", "slow (5 m)"), ("vector(0.05)", "SLO 5 %")],
                "percentunit",
            ),
        ],
        description="Availability 99.9 % / 30 d and p95 < 250 ms; multi-window multi-burn-rate view.",
    )


def grid() -> dict[str, Any]:
    site = f'{NS}, site=~"$site"'
    return dashboard(
        "gridos-grid-health",
        "GridOS / Grid health",
        [
            panel(
                "Devices reporting",
                [(f'sum(gridos_devices{{{site}, state="reporting"}})', "reporting")],
                "short",
                "stat",
                6,
                5,
            ),
            panel(
                "Devices stale",
                [(f'sum(gridos_devices{{{site}, state="stale"}})', "stale")],
                "short",
                "stat",
                6,
                5,
            ),
            panel("Active alarms", [(f"sum(gridos_active_alarms{{{NS}}})", "active")], "short", "stat", 6, 5),
            panel("Alarm flood", [(f"max(gridos_alarm_flood{{{NS}}})", "flood")], "short", "stat", 6, 5),
            panel(
                "Devices by site and state",
                [(f"sum by (site, state) (gridos_devices{{{site}}})", "{{site}} {{state}}")],
            ),
            panel(
                "Active alarms by priority",
                [(f"sum by (priority) (gridos_active_alarms{{{NS}}})", "{{priority}}")],
            ),
            panel(
                "Voltage envelope (per unit)",
                [
                    (f'gridos_site_measurement{{{site}, measurement="voltage", stat="{s}"}}', "{{site}} " + s)
                    for s in ("min", "avg", "max")
                ],
                "short",
                description="Latest values over each site's devices, in per-unit of nominal voltage; normal band 0.9-1.1.",
            ),
            panel(
                "Frequency envelope (Hz)",
                [
                    (
                        f'gridos_site_measurement{{{site}, measurement="frequency", stat="{s}"}}',
                        "{{site}} " + s,
                    )
                    for s in ("min", "avg", "max")
                ],
                "hertz",
            ),
            panel(
                "Alarm latency p95",
                [
                    (
                        f"histogram_quantile(0.95, sum by (le) (rate(gridos_alarm_latency_seconds_bucket{{{NS}}}[$__rate_interval])))",
                        "p95",
                    )
                ],
                "s",
            ),
            panel(
                "Field connectors",
                [
                    (f"sum by (protocol) (gridos_connector_up{{{NS}}})", "{{protocol}} up"),
                    (
                        f"sum by (protocol) (rate(gridos_connector_errors_total{{{NS}}}[$__rate_interval]))",
                        "{{protocol}} errors/s",
                    ),
                ],
            ),
        ],
        extra_vars=[
            {
                "name": "site",
                "type": "query",
                "datasource": DS,
                "query": {
                    "query": 'label_values(gridos_devices{namespace="$namespace"}, site)',
                    "refId": "site",
                },
                "definition": 'label_values(gridos_devices{namespace="$namespace"}, site)',
                "includeAll": True,
                "multi": True,
                "allValue": ".*",
                "refresh": 2,
            }
        ],
        description="Devices reporting, active alarms by priority, voltage and frequency envelopes per site.",
    )


def canary() -> dict[str, Any]:
    by = "rollouts_pod_template_hash"
    total = f"sum by ({by}) (rate(http_requests_total{{{API}}}[$__rate_interval]))"
    errors = f'(sum by ({by}) (rate(http_requests_total{{{API}, status=~"5.."}}[$__rate_interval])) or {total} * 0)'
    return dashboard(
        "gridos-canary",
        "GridOS / Canary vs stable",
        [
            panel(
                "Error ratio by pod-template-hash",
                [(f"{errors} / {total}", "{{" + by + "}}")],
                "percentunit",
                description="The gridos-error-rate analysis fails a canary at 1 %.",
            ),
            panel(
                "p95 latency by pod-template-hash",
                [
                    (
                        f"histogram_quantile(0.95, sum by ({by}, le) (rate(http_request_duration_seconds_bucket{{{API}}}[$__rate_interval])))",
                        "{{" + by + "}}",
                    )
                ],
                "s",
                description="The gridos-latency-p95 analysis fails a canary at 250 ms.",
            ),
            panel("Requests per second by pod-template-hash", [(total, "{{" + by + "}}")], "reqps"),
            panel(
                "CPU (cores) by pod-template-hash",
                [
                    (
                        f"sum by ({by}) (rate(process_cpu_seconds_total{{{NS}}}[$__rate_interval]))",
                        "{{" + by + "}}",
                    )
                ],
                "short",
                description="The gridos-cpu-saturation analysis fails a canary at 70 % of its CPU limit.",
            ),
            panel(
                "Builds running",
                [(f"sum by (version, revision) (gridos_build_info{{{NS}}})", "{{version}} {{revision}}")],
                width=24,
            ),
        ],
        description="Canary and stable side by side, split by the rollouts_pod_template_hash label.",
    )


def _yaml_dump(docs: list[dict[str, Any]]) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.width = 4096
    out = StringIO()
    yaml.dump_all(docs, out)
    return out.getvalue()


def outputs() -> dict[Path, str]:
    files: dict[Path, str] = {}
    header = "# Generated by deploy/monitoring/generate.py (make monitoring-generate). Do not edit.\n"
    dashboards = {
        "gridos-red": red(),
        "gridos-slo": slo(),
        "gridos-grid-health": grid(),
        "gridos-canary": canary(),
    }
    for name, body in dashboards.items():
        files[DASHBOARDS / f"{name}.json"] = json.dumps(body, indent=2) + "\n"
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"{name}-dashboard",
                "labels": {**LABELS, "grafana_dashboard": "1"},
                "annotations": {"grafana_folder": "GridOS"},
            },
            "data": {f"{name}.json": json.dumps(body, indent=2) + "\n"},
        }
        files[COMPONENT / f"configmap-dashboard-{name}.yaml"] = header + _yaml_dump([configmap])
    safe = YAML(typ="safe")
    for rules in sorted((HERE / "rules").glob("*.rules.yaml")):
        name = rules.name.removesuffix(".rules.yaml")
        rule = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": name, "labels": {**LABELS, "prometheus": "gridos", "role": "alert-rules"}},
            "spec": safe.load(rules.read_text()),
        }
        files[COMPONENT / f"prometheusrule-{name}.yaml"] = header + _yaml_dump([rule])
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "alertmanager-gridos", "labels": LABELS},
        "type": "Opaque",
        # The routing only: receiver credentials are files from the gridos-alert-receivers Secret.
        "stringData": {"alertmanager.yaml": (HERE / "alertmanager" / "alertmanager.yml").read_text()},
    }
    files[COMPONENT / "secret-alertmanager-config.yaml"] = header + _yaml_dump([secret])
    return files


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path, content in outputs().items():
        if path.exists() and path.read_text() == content:
            continue
        stale.append(path.relative_to(ROOT))
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content)
    if check and stale:
        print(
            f"generated files are stale (run make monitoring-generate): {', '.join(map(str, stale))}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
