"""What every cross-check receives: the rendered objects of one target (indexed), the running GridOS to check
against (or None), and the repository configuration (repository URL, values files)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.reference import GridosReference

WORKLOAD_KINDS = ("Rollout", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# The root Application of the Argo CD bootstrap names the repository Argo CD syncs from: the one place that
# says which `repoURL` is "this repository".
ROOT_APPLICATION = Path("deploy/argocd/bootstrap/root.yaml")


@dataclass(frozen=True)
class RepositoryConfig:
    """Where the checks look for this repository's own files, and how Argo CD names the repository."""

    root: Path
    repository_url: str | None = None
    argocd_values: Path = Path("deploy/argocd/bootstrap/values-argocd.yaml")
    rollouts_values: Path = Path("deploy/argocd/values/argo-rollouts.yaml")

    @classmethod
    def discover(
        cls,
        root: Path,
        repository_url: str | None = None,
        argocd_values: Path | None = None,
        rollouts_values: Path | None = None,
    ) -> RepositoryConfig:
        """The repository URL from the argument, else from the root Application of the bootstrap; the values
        files from the arguments, else the defaults above."""
        if repository_url is None and (root / ROOT_APPLICATION).is_file():
            doc = yaml.safe_load((root / ROOT_APPLICATION).read_text()) or {}
            found = ((doc.get("spec") or {}).get("source") or {}).get("repoURL")
            repository_url = str(found) if found else None
        config = cls(root, repository_url)
        if argocd_values is not None:
            config = replace(config, argocd_values=argocd_values)
        if rollouts_values is not None:
            config = replace(config, rollouts_values=rollouts_values)
        return config

    def values(self, relative: Path) -> dict[str, Any] | None:
        path = self.root / relative
        if not path.is_file():
            return None
        loaded = yaml.safe_load(path.read_text())
        return loaded if isinstance(loaded, dict) else {}


@dataclass(frozen=True)
class PodTemplate:
    owner: ManifestObject
    labels: dict[str, str]
    spec: dict[str, Any]

    def containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers") or []) + list(self.spec.get("initContainers") or [])


class RenderedObjects:
    """Index of one rendered target's objects."""

    def __init__(self, objects: list[ManifestObject]) -> None:
        self.objects = objects

    def of_kind(self, *kinds: str) -> list[ManifestObject]:
        return [o for o in self.objects if o.kind in kinds]

    def find(self, kind: str, name: str) -> ManifestObject | None:
        return next((o for o in self.objects if o.kind == kind and o.name == name), None)

    def pod_templates(self) -> list[PodTemplate]:
        out = []
        for o in self.of_kind(*WORKLOAD_KINDS):
            spec = o.doc.get("spec") or {}
            if o.kind == "CronJob":  # the pod template sits one level deeper, in the Job template
                spec = (spec.get("jobTemplate") or {}).get("spec") or {}
            template = spec.get("template") or {}
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            out.append(PodTemplate(o, labels, template.get("spec") or {}))
        return out

    def container_env(self, container: dict[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        for source in container.get("envFrom") or []:
            ref = (source.get("configMapRef") or {}).get("name")
            cm = self.find("ConfigMap", ref) if ref else None
            if cm:
                env.update({str(k): str(v) for k, v in (cm.doc.get("data") or {}).items()})
        for item in container.get("env") or []:
            if "value" in item:
                env[str(item["name"])] = str(item["value"])
        return env


@dataclass(frozen=True)
class CheckContext:
    objects: RenderedObjects
    reference: GridosReference | None = None
    repository: RepositoryConfig | None = field(default=None)


Check = Callable[[CheckContext], Iterator[Finding]]


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def label_selector(sel: dict[str, Any] | None) -> dict[str, str]:
    return dict((sel or {}).get("matchLabels") or {})


def describe(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def service_ports(svc: ManifestObject) -> set[str]:
    ports = (svc.doc.get("spec") or {}).get("ports") or []
    return {str(p.get("name")) for p in ports if p.get("name")} | {str(p.get("port")) for p in ports}
