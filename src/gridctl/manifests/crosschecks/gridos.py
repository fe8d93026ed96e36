"""Cross-checks against GridOS itself: the series analysis and alerts query are exported by a running GridOS,
probes and web metrics hit paths it serves, and the pod spec agrees with its settings (drain time, workers)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gridctl.manifests.crosschecks.context import CheckContext, RenderedObjects
from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.promql import metric_names

# Series GridOS queries that other exporters provide, each documented in docs/deploy.md:
# `up` (Prometheus itself, target health) and `rollout_info` (the Argo Rollouts controller's metrics).
OUTSIDE_METRICS = frozenset({"up", "rollout_info"})
CPU_LIMIT_ANNOTATION = "gridos.io/cpu-limit-cores"
_ARG_PLACEHOLDER = re.compile(r"\{\{\s*args\.[\w.-]+\s*\}\}")
_WEB_URL = re.compile(r"^https?://([^/:]+)(?::\d+)?(/[^?#]*)?")


def _queries(t: RenderedObjects) -> Iterator[tuple[ManifestObject, str, str]]:
    for at in t.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        for metric in (at.doc.get("spec") or {}).get("metrics") or []:
            prom = (metric.get("provider") or {}).get("prometheus") or {}
            if prom.get("query"):
                yield at, f"metric {metric.get('name')!r}", _ARG_PLACEHOLDER.sub("1", str(prom["query"]))
    for rule_obj in t.of_kind("PrometheusRule"):
        for group in (rule_obj.doc.get("spec") or {}).get("groups") or []:
            for rule in group.get("rules") or []:
                label = rule.get("record") or rule.get("alert")
                yield rule_obj, f"rule {label!r}", str(rule.get("expr", ""))


def check_metrics(ctx: CheckContext) -> Iterator[Finding]:
    """Every series an AnalysisTemplate or alert reads is exported by the running GridOS (or is a recording
    rule of the target, or one of OUTSIDE_METRICS). Needs a running GridOS."""
    t, reference = ctx.objects, ctx.reference
    if reference is None:
        return
    recorded = {
        str(rule["record"])
        for o in t.of_kind("PrometheusRule")
        for g in (o.doc.get("spec") or {}).get("groups") or []
        for rule in g.get("rules") or []
        if rule.get("record")
    }
    known = reference.metrics | recorded | OUTSIDE_METRICS
    for obj, where, query in _queries(t):
        unknown = sorted(metric_names(query) - known)
        if unknown:
            yield Finding.of(
                "metrics",
                obj,
                f"{where} queries {', '.join(unknown)}, which GridOS does not export "
                f"(checked against {reference.url}/metrics)",
            )


def _resolve_port(container: dict[str, Any], port: Any) -> int | None:
    for p in container.get("ports") or []:
        if port == p.get("name") or port == p.get("containerPort"):
            return int(p["containerPort"])
    return None


def check_probes(ctx: CheckContext) -> Iterator[Finding]:
    """Probes target a declared container port that GridOS listens on (GRIDOS_PORT) and, checked against the
    running GridOS, a path that answers 200."""
    t, reference = ctx.objects, ctx.reference
    for pod in t.pod_templates():
        for c in pod.spec.get("containers") or []:
            env = t.container_env(c)
            for probe_name in ("startupProbe", "livenessProbe", "readinessProbe"):
                http = (c.get(probe_name) or {}).get("httpGet")
                if not http:
                    continue
                where = f"container {c.get('name')!r} {probe_name}"
                port = _resolve_port(c, http.get("port"))
                if port is None:
                    yield Finding.of(
                        "probes", pod.owner, f"{where}: port {http.get('port')!r} is not a container port"
                    )
                elif "GRIDOS_PORT" in env and str(port) != env["GRIDOS_PORT"]:
                    yield Finding.of(
                        "probes",
                        pod.owner,
                        f"{where}: port {port} but GridOS listens on GRIDOS_PORT={env['GRIDOS_PORT']}",
                    )
                path = str(http.get("path", "/"))
                if reference is not None and reference.status(path) != 200:
                    yield Finding.of(
                        "probes",
                        pod.owner,
                        f"{where}: GET {path} answers {reference.status(path) or 'nothing'} on a running GridOS, not 200",
                    )


def check_web_metrics(ctx: CheckContext) -> Iterator[Finding]:
    """Web metrics of AnalysisTemplates call a Service of the target, on a path that answers 200 on a running
    GridOS."""
    t, reference = ctx.objects, ctx.reference
    services = {s.name for s in t.of_kind("Service")}
    for at in t.of_kind("AnalysisTemplate", "ClusterAnalysisTemplate"):
        for metric in (at.doc.get("spec") or {}).get("metrics") or []:
            web = (metric.get("provider") or {}).get("web") or {}
            m = _WEB_URL.match(str(web.get("url", "")))
            if not m:
                continue
            where = f"metric {metric.get('name')!r} url {web['url']!r}"
            host, path = m.group(1), m.group(2) or "/"
            service = host.split(".", 1)[0]
            if "." in host and host.split(".")[-1] in ("svc", "local") and service not in services:
                yield Finding.of("reference", at, f"{where}: no Service {service!r} in the target")
            if reference is not None and reference.status(path) != 200:
                yield Finding.of(
                    "probes",
                    at,
                    f"{where}: GET {path} answers {reference.status(path) or 'nothing'} on a running GridOS",
                )


def _cpu_cores(quantity: Any) -> float | None:
    text = str(quantity)
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None


def check_runtime(ctx: CheckContext) -> Iterator[Finding]:
    """The pod spec agrees with GridOS: termination grace outlasts preStop + GRIDOS_SHUTDOWN_GRACE_SECONDS;
    the CPU analysis divides by the cores one GridOS process can use."""
    t = ctx.objects
    for pod in t.pod_templates():
        if pod.owner.kind != "Rollout":
            continue
        grace = int(pod.spec.get("terminationGracePeriodSeconds", 30))
        for c in pod.spec.get("containers") or []:
            env = t.container_env(c)
            drain = float(env.get("GRIDOS_SHUTDOWN_GRACE_SECONDS", "20"))
            pre_stop = float(
                (((c.get("lifecycle") or {}).get("preStop") or {}).get("sleep") or {}).get("seconds", 0)
            )
            if grace <= drain + pre_stop:
                yield Finding.of(
                    "runtime",
                    pod.owner,
                    f"terminationGracePeriodSeconds {grace} must exceed preStop {pre_stop:g}s + "
                    f"GRIDOS_SHUTDOWN_GRACE_SECONDS {drain:g}s, or pods are killed mid-drain",
                )
            limit = _cpu_cores(((c.get("resources") or {}).get("limits") or {}).get("cpu"))
            declared = pod.owner.annotations.get(CPU_LIMIT_ANNOTATION)
            if limit is not None and declared is not None:
                expected = min(limit, float(env.get("GRIDOS_WORKERS", "1")))
                if abs(float(declared) - expected) > 1e-9:
                    yield Finding.of(
                        "runtime",
                        pod.owner,
                        f"annotation {CPU_LIMIT_ANNOTATION}={declared} but min(cpu limit {limit:g}, "
                        f"GRIDOS_WORKERS) is {expected:g}: the CPU saturation analysis would divide by the wrong number",
                    )
        labels = {k: v for k, v in pod.owner.labels.items() if k.startswith("app.kubernetes.io/")}
        missing = sorted(k for k in labels if pod.labels.get(k) != labels[k])
        if missing:
            yield Finding.of(
                "labels",
                pod.owner,
                f"labels {', '.join(missing)} did not reach the pod template "
                "(kustomize `configurations:` for Rollouts missing?)",
            )


CHECKS = [check_metrics, check_probes, check_web_metrics, check_runtime]
