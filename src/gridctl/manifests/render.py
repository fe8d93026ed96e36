"""Render every kustomize target of the repository with `kubectl kustomize`, keeping for each object the file
that defined it (kustomize origin annotations) so findings can name it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gridctl.manifests.findings import Finding, ManifestObject

ENVIRONMENTS = ("dev", "staging", "prod")
_ORIGIN = "config.kubernetes.io/origin"
_TRANSFORMATIONS = "alpha.config.kubernetes.io/transformations"


class RenderError(Exception):
    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target


@dataclass(frozen=True)
class Target:
    """A directory with a kustomization.yaml (`kustomize`) or plain manifests (`files`)."""

    name: str
    path: Path
    environment: str | None
    kind: str = "kustomize"


def _environment(name: str) -> str | None:
    head = name.split("-", 1)[0]
    return head if head in ENVIRONMENTS else None


def discover_targets(root: Path) -> list[Target]:
    """Overlays, component combinations (deploy/k8s/tests/*), platform configuration, the Argo CD tree, and
    the Argo CD bootstrap manifests."""
    targets: list[Target] = []
    k8s = root / "deploy" / "k8s"
    for group in ("overlays", "tests", "platform"):
        base = k8s / group
        if base.is_dir():
            for d in sorted(p for p in base.iterdir() if (p / "kustomization.yaml").is_file()):
                env = _environment(d.name) if group != "platform" else None
                targets.append(Target(f"deploy/k8s/{group}/{d.name}", d, env))
    argocd = root / "deploy" / "argocd"
    if (argocd / "kustomization.yaml").is_file():
        targets.append(Target("deploy/argocd", argocd, None))
    if (argocd / "bootstrap").is_dir():
        targets.append(Target("deploy/argocd/bootstrap", argocd / "bootstrap", None, kind="files"))
    return targets


def kubectl_path() -> str:
    found = shutil.which("kubectl")
    if not found:
        raise RenderError("", "kubectl not found on PATH (it bundles kustomize; install kubectl >= 1.27)")
    return found


def _load_yaml(text: str) -> list[dict[str, Any]]:
    # libyaml (PyYAML's C loader, installed with kubernetes-validate): ten times faster than pure-Python
    # ruamel on kustomize output, which is plain block YAML.
    return [d for d in yaml.load_all(text, Loader=yaml.CSafeLoader) if isinstance(d, dict)]


def _relative(root: Path, base: Path, path: str) -> str:
    full = Path(os.path.normpath(base / path))
    try:
        return str(full.relative_to(root))
    except ValueError:
        return str(full)


def _provenance(root: Path, base: Path, doc: dict[str, Any], fallback: str) -> tuple[str, tuple[str, ...]]:
    """(file that defined the object, files whose patches changed it), and strips kustomize's annotations."""
    meta = doc.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    origin = _load_yaml(annotations.pop(_ORIGIN, "") or "{}") or [{}]
    annotations.pop(_TRANSFORMATIONS, None)
    if not annotations and "annotations" in meta:
        del meta["annotations"]
    o = origin[0] if isinstance(origin[0], dict) else {}
    source = o.get("path") or o.get("configuredIn")
    # Kustomize records every overlay patch on every object (not only those it changed), so the overlay is
    # named through the target instead of a list of patch files.
    return (_relative(root, base, source) if source else fallback), ()


def _kustomize_error(stderr: str, path: str, name: str) -> str:
    """kubectl's last error line without its klog prefix, with paths shown relative to the repository."""
    lines = stderr.strip().splitlines() or ["kustomize failed"]
    message = lines[-1]
    if 'err="' in message:
        message = message.split('err="', 1)[1].rstrip('"')
    return message.replace(path, name).replace("\\'", "'")


def render(target: Target, root: Path, kubectl: str | None = None) -> list[ManifestObject]:
    if target.kind == "files":
        objects = []
        for path in sorted(target.path.glob("*.yaml")):
            try:
                docs = _load_yaml(path.read_text())
            except yaml.YAMLError as exc:
                raise RenderError(target.name, f"{path.relative_to(root)}: {exc}") from None
            for doc in docs:
                if "apiVersion" in doc and "kind" in doc:
                    objects.append(
                        ManifestObject(target.name, str(path.relative_to(root)), doc, target.environment)
                    )
        return objects
    kubectl = kubectl or kubectl_path()
    with tempfile.TemporaryDirectory(prefix="gridctl-render-") as tmp:
        wrapper = Path(tmp)
        rel = os.path.relpath(target.path.resolve(), wrapper.resolve())
        (wrapper / "kustomization.yaml").write_text(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
            f"resources:\n  - {rel}\nbuildMetadata: [originAnnotations, transformerAnnotations]\n"
        )
        proc = subprocess.run([kubectl, "kustomize", str(wrapper)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RenderError(
                target.name, _kustomize_error(proc.stderr, str(target.path.resolve()), target.name)
            )
        objects = []
        for doc in _load_yaml(proc.stdout):
            source, patched = _provenance(root, wrapper.resolve(), doc, f"{target.name}/kustomization.yaml")
            objects.append(ManifestObject(target.name, source, doc, target.environment, patched))
        return objects


def render_finding(exc: RenderError) -> Finding:
    return Finding("render", f"{exc.target}/kustomization.yaml", "-", str(exc), exc.target)
