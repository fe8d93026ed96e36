"""Cross-checks between the objects of one rendered target: what schemas cannot see. Each check names the
file and object at fault. One module per domain: plain Kubernetes and Gateway API (`kubernetes`), Argo
Rollouts (`rollouts`), GridOS itself (`gridos`, against a running GridOS), Argo CD (`argocd`)."""

from __future__ import annotations

from gridctl.manifests.crosschecks import argocd, gridos, kubernetes, rollouts
from gridctl.manifests.crosschecks.context import (
    Check,
    CheckContext,
    RenderedObjects,
    RepositoryConfig,
)
from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.reference import GridosReference

CHECKS: list[Check] = [*kubernetes.CHECKS, *rollouts.CHECKS, *gridos.CHECKS, *argocd.CHECKS]


def check_target(
    objects: list[ManifestObject],
    reference: GridosReference | None,
    repository: RepositoryConfig | None = None,
) -> list[Finding]:
    """Every cross-check over one rendered target. Checks that need this repository's files (Argo CD paths,
    chart values) are skipped without `repository`; those that need a running GridOS, without `reference`."""
    ctx = CheckContext(RenderedObjects(objects), reference, repository)
    return [finding for check in CHECKS for finding in check(ctx)]


__all__ = ["CHECKS", "CheckContext", "RenderedObjects", "RepositoryConfig", "check_target"]
