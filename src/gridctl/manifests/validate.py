"""`gridctl validate`: render every target, then schemas, cross-checks, Rego policies and checkov."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from gridctl.manifests import STEPS, policies, scanners
from gridctl.manifests.crosschecks import RepositoryConfig, check_target
from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.reference import GridosReference, ReferenceError_, running_gridos
from gridctl.manifests.render import (
    RenderError,
    Target,
    discover_targets,
    kubectl_path,
    render,
    render_finding,
)
from gridctl.manifests.schema import DEFAULT_KUBERNETES_VERSION, validate_object


@dataclass
class ValidationOptions:
    root: Path
    kubernetes_version: str = DEFAULT_KUBERNETES_VERSION
    gridos_url: str | None = None
    gridos_command: list[str] | None = None
    skip: frozenset[str] = frozenset()
    targets: tuple[str, ...] = ()
    extra_targets: tuple[Target, ...] = ()
    # The repoURL Argo CD uses for this repository (default: the root Application's, deploy/argocd/bootstrap).
    repository_url: str | None = None
    # The chart values the cross-checks read, relative to root (default: RepositoryConfig's).
    argocd_values: Path | None = None
    rollouts_values: Path | None = None


@dataclass
class ValidationReport:
    targets: list[str] = field(default_factory=list)
    objects: int = 0
    findings: list[Finding] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    metrics_source: str | None = None

    @property
    def ok(self) -> bool:
        return not self.findings


@contextlib.contextmanager
def _reference(options: ValidationOptions) -> Iterator[GridosReference | None]:
    if "metrics" in options.skip:
        yield None
    elif options.gridos_url:
        yield GridosReference(options.gridos_url.rstrip("/")).scrape()
    else:
        with running_gridos(options.gridos_command) as ref:
            yield ref


def select_targets(options: ValidationOptions) -> list[Target]:
    found = discover_targets(options.root) + list(options.extra_targets)
    if options.targets:
        wanted = set(options.targets)
        found = [t for t in found if t.name in wanted or t.path.name in wanted]
    return found


def validate(options: ValidationOptions) -> ValidationReport:
    """Run every step that is not skipped; raises ReferenceError_ when GridOS cannot be started/scraped and
    RenderError when kubectl is missing."""
    report = ValidationReport()
    schemas = options.root / "deploy" / "schemas"
    kubectl = kubectl_path()
    rendered: list[tuple[Target, list[ManifestObject]]] = []
    for target in select_targets(options):
        report.targets.append(target.name)
        try:
            rendered.append((target, render(target, options.root, kubectl)))
        except RenderError as exc:
            report.findings.append(render_finding(exc))
    report.objects = sum(len(objs) for _, objs in rendered)
    if "schema" not in options.skip:
        report.steps.append("schema")
        for _, objs in rendered:
            for obj in objs:
                report.findings += validate_object(obj, schemas, options.kubernetes_version)
    if "semantic" not in options.skip:
        report.steps.append("semantic")
        with _reference(options) as reference:
            if reference is not None:
                report.steps.append("metrics")
                report.metrics_source = reference.url
            repository = RepositoryConfig.discover(
                options.root, options.repository_url, options.argocd_values, options.rollouts_values
            )
            for _, objs in rendered:
                report.findings += check_target(objs, reference, repository)
    if "policies" not in options.skip:
        report.steps.append("policies")
        report.findings += policies.evaluate(options.root / "deploy" / "policies", [o for _, o in rendered])
    if "checkov" not in options.skip:
        report.steps.append("checkov")
        report.findings += scanners.checkov(
            options.root, [(t, o) for t, o in rendered if t.name.startswith("deploy/k8s")]
        )
    return report


__all__ = ["STEPS", "ReferenceError_", "ValidationOptions", "ValidationReport", "validate"]
