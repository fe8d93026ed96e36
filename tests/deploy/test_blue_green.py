"""The blue-green component as the supported combinations render it (deploy/k8s/tests/*-blue-green)."""

from __future__ import annotations

from gridctl.manifests.render import discover_targets, render
from tests.support.manifests import ROOT, Repo, only

COMPONENT = "deploy/k8s/components/blue-green"


def test_combination_replaces_the_canary() -> None:
    (target,) = [t for t in discover_targets(ROOT) if t.name == "deploy/k8s/tests/prod-blue-green"]
    objects = render(target, ROOT)
    (rollout,) = [o.doc for o in objects if o.kind == "Rollout"]
    strategy = rollout["spec"]["strategy"]
    assert set(strategy) == {"blueGreen"} and strategy["blueGreen"]["autoPromotionEnabled"] is False
    services = {o.name for o in objects if o.kind == "Service"}
    assert {"gridos-active", "gridos-preview"} <= services and not {
        "gridos-stable",
        "gridos-canary",
    } & services
    # The route sends everything to the active Service; no weights to shift, so no traffic-router plugin.
    (route,) = [o.doc for o in objects if o.kind == "HTTPRoute" and o.name == "gridos"]
    assert [b["name"] for b in route["spec"]["rules"][0]["backendRefs"]] == ["gridos-active"]
    assert {o.namespace for o in objects} == {"gridos"}


def test_preview_service_missing(repo: Repo) -> None:
    repo.plant(f"{COMPONENT}/kustomization.yaml", "  - service-preview.yaml\n", "")
    found = repo.findings("prod-blue-green", check="reference")
    only(found, "deploy/k8s/base/rollout.yaml", "Rollout/gridos", "previewService 'gridos-preview'")
    only(
        found,
        f"{COMPONENT}/analysistemplate-preview-health.yaml",
        "AnalysisTemplate/gridos-preview-health",
        "gridos-preview",
    )


def test_preview_check_on_an_endpoint_gridos_does_not_serve(repo: Repo) -> None:
    repo.plant(f"{COMPONENT}/analysistemplate-preview-health.yaml", "svc/health/ready", "svc/ready")
    found = repo.findings("dev-blue-green", check="probes")
    only(
        found,
        f"{COMPONENT}/analysistemplate-preview-health.yaml",
        "AnalysisTemplate/gridos-preview-health",
        "/ready",
    )


def test_component_resources_outside_the_namespace(repo: Repo) -> None:
    repo.plant("deploy/k8s/tests/dev-blue-green/kustomization.yaml", "namespace: gridos\n", "")
    found = repo.findings("dev-blue-green", check="namespace")
    only(found, f"{COMPONENT}/service-active.yaml", "Service/gridos-active", "'gridos'")
