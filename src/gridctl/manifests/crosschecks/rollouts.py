"""Cross-checks of Argo Rollouts objects: the Services, routes and traffic-router plugin a Rollout names exist
and fit together; the AnalysisTemplates it runs exist and get the args they need."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gridctl.manifests.crosschecks.context import CheckContext
from gridctl.manifests.crosschecks.kubernetes import backend_refs
from gridctl.manifests.findings import Finding, ManifestObject

GATEWAY_PLUGIN = "argoproj-labs/gatewayAPI"
_FIELD_REF = re.compile(r"^metadata\.(annotations|labels)\['([^']+)'\]$")


def _canary(ro: ManifestObject) -> dict[str, Any]:
    return ((ro.doc.get("spec") or {}).get("strategy") or {}).get("canary") or {}


def _routes(plugin: dict[str, Any]) -> list[str]:
    """The HTTPRoutes the Gateway API plugin manages: `httpRoute` or `httpRoutes[].name`."""
    names = [str(plugin["httpRoute"])] if plugin.get("httpRoute") else []
    return names + [str(r.get("name")) for r in plugin.get("httpRoutes") or [] if r.get("name")]


def _registered_plugins(ctx: CheckContext) -> set[str] | None:
    """Traffic-router plugins the Argo Rollouts chart values register (None when there are no values)."""
    if ctx.repository is None:
        return None
    values = ctx.repository.values(ctx.repository.rollouts_values)
    if values is None:
        return None
    plugins = (values.get("controller") or {}).get("trafficRouterPlugins") or []
    return {str(p.get("name")) for p in plugins if isinstance(p, dict)}


def check_services(ctx: CheckContext) -> Iterator[Finding]:
    """The stable/canary/active/preview Services a Rollout names exist in the target."""
    for ro in ctx.objects.of_kind("Rollout"):
        strategy = (ro.doc.get("spec") or {}).get("strategy") or {}
        canary, bluegreen = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
        for role, name in (
            ("canaryService", canary.get("canaryService")),
            ("stableService", canary.get("stableService")),
            ("activeService", bluegreen.get("activeService")),
            ("previewService", bluegreen.get("previewService")),
        ):
            if name and not ctx.objects.find("Service", name):
                yield Finding.of("reference", ro, f"{role} {name!r}: no Service of that name")


def check_traffic_routing(ctx: CheckContext) -> Iterator[Finding]:
    """A canary routed by the Gateway API plugin: the plugin is registered with the controller (chart values),
    and each HTTPRoute it names exists and has backends on both the stable and the canary Service, which is
    what the plugin shifts weight between."""
    registered = _registered_plugins(ctx)
    for ro in ctx.objects.of_kind("Rollout"):
        canary = _canary(ro)
        plugins = (canary.get("trafficRouting") or {}).get("plugins") or {}
        for name, config in plugins.items():
            if registered is not None and name not in registered:
                values = ctx.repository.rollouts_values if ctx.repository else "the Argo Rollouts values"
                yield Finding.of(
                    "rollouts",
                    ro,
                    f"traffic-router plugin {name!r} is not registered in {values} "
                    "(controller.trafficRouterPlugins): the controller would refuse the Rollout",
                )
            if name != GATEWAY_PLUGIN:
                continue
            for route_name in _routes(config or {}):
                route = ctx.objects.find("HTTPRoute", route_name)
                if route is None:
                    yield Finding.of(
                        "reference", ro, f"plugin {name} httpRoute {route_name!r}: no HTTPRoute of that name"
                    )
                    continue
                backends = {svc for _, svc, _ in backend_refs(route)}
                for role in ("stableService", "canaryService"):
                    if canary.get(role) and canary[role] not in backends:
                        yield Finding.of(
                            "reference",
                            ro,
                            f"HTTPRoute {route_name!r} has no backendRef on {role} {canary[role]!r}, "
                            "so the plugin cannot shift weight to it",
                        )


def _analysis_uses(ro: ManifestObject) -> Iterator[tuple[str, dict[str, Any]]]:
    strategy = (ro.doc.get("spec") or {}).get("strategy") or {}
    canary, bluegreen = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
    if canary.get("analysis"):
        yield "canary.analysis", canary["analysis"]
    for i, step in enumerate(canary.get("steps") or []):
        if step.get("analysis"):
            yield f"canary.steps[{i}].analysis", step["analysis"]
    for key in ("prePromotionAnalysis", "postPromotionAnalysis"):
        if bluegreen.get(key):
            yield f"blueGreen.{key}", bluegreen[key]


def check_analysis(ctx: CheckContext) -> Iterator[Finding]:
    """Every AnalysisTemplate a Rollout runs exists; every arg it passes is declared; every arg without a
    default is passed; fieldRef args point at metadata the Rollout has."""
    t = ctx.objects
    for ro in t.of_kind("Rollout"):
        for where, use in _analysis_uses(ro):
            declared: dict[str, bool] = {}
            missing = False
            for ref in use.get("templates") or []:
                name = ref.get("templateName")
                kind = "ClusterAnalysisTemplate" if ref.get("clusterScope") else "AnalysisTemplate"
                template = t.find(kind, name)
                if not template:
                    missing = True
                    yield Finding.of("analysis", ro, f"{where}: {kind} {name!r} does not exist")
                    continue
                for arg in (template.doc.get("spec") or {}).get("args") or []:
                    has_default = "value" in arg or "valueFrom" in arg
                    declared[arg["name"]] = declared.get(arg["name"], True) and has_default
            passed = {a.get("name"): a for a in use.get("args") or []}
            for name, arg in passed.items():
                if not missing and name not in declared:
                    yield Finding.of(
                        "analysis", ro, f"{where}: arg {name!r} is declared by none of its templates"
                    )
                field_path = ((arg.get("valueFrom") or {}).get("fieldRef") or {}).get("fieldPath")
                m = _FIELD_REF.match(field_path or "")
                if m and m.group(2) not in (ro.annotations if m.group(1) == "annotations" else ro.labels):
                    yield Finding.of(
                        "analysis", ro, f"{where}: arg {name!r} reads {field_path}, which the Rollout lacks"
                    )
            for name, has_default in declared.items():
                if not has_default and name not in passed:
                    yield Finding.of("analysis", ro, f"{where}: required arg {name!r} is not passed")


CHECKS = [check_services, check_traffic_routing, check_analysis]
