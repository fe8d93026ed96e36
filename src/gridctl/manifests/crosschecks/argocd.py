"""Cross-checks of Argo CD objects: Applications and ApplicationSets fit their project and point at paths and
value files that exist in this repository, notification subscriptions resolve, and PreSync hooks find the
Secrets they need already created."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

from gridctl.manifests.crosschecks.context import CheckContext, RenderedObjects, RepositoryConfig
from gridctl.manifests.findings import Finding, ManifestObject

ENVIRONMENTS = ("dev", "staging", "prod")
_ENV_TEMPLATE = re.compile(r"\{\{[^}]*gridos\.io/environment[^}]*\}\}")
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][\w.]+)?$")
_SUBSCRIPTION = re.compile(r"^notifications\.argoproj\.io/subscribe\.([\w-]+)\.([\w-]+)$")


def _application_specs(t: RenderedObjects) -> Iterator[tuple[ManifestObject, dict[str, Any]]]:
    for app in t.of_kind("Application"):
        yield app, app.doc.get("spec") or {}
    for appset in t.of_kind("ApplicationSet"):
        yield appset, ((appset.doc.get("spec") or {}).get("template") or {}).get("spec") or {}


def _expand(text: str) -> list[str]:
    """A path or value file per environment when it is templated on the environment label."""
    return [_ENV_TEMPLATE.sub(env, text) for env in ENVIRONMENTS] if _ENV_TEMPLATE.search(text) else [text]


def check_argocd(ctx: CheckContext) -> Iterator[Finding]:
    """Applications and ApplicationSets: their project exists and allows their sources and destination
    namespace; paths and value files of this repository exist (per environment when templated); charts are
    pinned to an exact version."""
    repo_config = ctx.repository
    if repo_config is None:
        return
    root = repo_config.root
    t = ctx.objects
    projects = {p.name: p.doc.get("spec") or {} for p in t.of_kind("AppProject")}
    for obj, spec in _application_specs(t):
        project = spec.get("project")
        if project != "default" and project not in projects:
            if projects:
                yield Finding.of("argocd", obj, f"project {project!r} is not defined")
            continue
        allowed = projects.get(str(project), {})
        sources = [spec["source"]] if spec.get("source") else list(spec.get("sources") or [])
        for source in sources:
            repo = source.get("repoURL")
            if (
                allowed
                and repo not in (allowed.get("sourceRepos") or [])
                and "*" not in (allowed.get("sourceRepos") or [])
            ):
                yield Finding.of("argocd", obj, f"source {repo} is not in project {project!r} sourceRepos")
            if source.get("chart") and not _EXACT_VERSION.match(str(source.get("targetRevision", ""))):
                yield Finding.of(
                    "argocd",
                    obj,
                    f"chart {source['chart']} targetRevision {source.get('targetRevision')!r} "
                    "is not an exact version",
                )
            if repo_config.repository_url and repo == repo_config.repository_url and source.get("path"):
                for path in _expand(str(source["path"])):
                    if not (root / path / "kustomization.yaml").is_file():
                        yield Finding.of(
                            "argocd", obj, f"path {path} has no kustomization.yaml in this repository"
                        )
            for value_file in (source.get("helm") or {}).get("valueFiles") or []:
                if str(value_file).startswith("$values/"):
                    for path in _expand(str(value_file).removeprefix("$values/")):
                        if not (root / path).is_file():
                            yield Finding.of(
                                "argocd", obj, f"value file {path} does not exist in this repository"
                            )
        namespace = (spec.get("destination") or {}).get("namespace")
        destinations = allowed.get("destinations") or []
        if (
            allowed
            and namespace
            and not any(
                d.get("namespace") in (namespace, "*")
                or (str(d.get("namespace", "")).endswith("*") and namespace.startswith(d["namespace"][:-1]))
                for d in destinations
            )
        ):
            yield Finding.of(
                "argocd", obj, f"destination namespace {namespace!r} is not allowed by project {project!r}"
            )


def _notifications(
    config: RepositoryConfig,
) -> tuple[set[str], set[str], dict[str, list[str]], set[str]] | None:
    """(triggers, services, trigger -> templates it sends, templates) of the Argo CD chart values."""
    loaded = config.values(config.argocd_values)
    if loaded is None:
        return None
    values = loaded.get("notifications") or {}
    triggers: dict[str, list[str]] = {}
    for key, body in (values.get("triggers") or {}).items():
        conditions = yaml.safe_load(body) or []
        triggers[key.removeprefix("trigger.")] = [str(t) for c in conditions for t in c.get("send") or []]
    services = {k.split(".")[-1] for k in values.get("notifiers") or {} if k.startswith("service.")}
    templates = {k.removeprefix("template.") for k in values.get("templates") or {}}
    return set(triggers), services, triggers, templates


def check_notifications(ctx: CheckContext) -> Iterator[Finding]:
    """Subscriptions on Applications name a trigger and a notifier that the Argo CD values define, and every
    trigger sends templates that exist."""
    if ctx.repository is None:
        return
    config = _notifications(ctx.repository)
    if config is None:
        return
    values_file = ctx.repository.argocd_values
    trigger_names, services, sends, templates = config
    for obj in ctx.objects.of_kind("Application", "ApplicationSet"):
        meta = obj.doc.get("metadata") or {}
        if obj.kind == "ApplicationSet":
            meta = (((obj.doc.get("spec") or {}).get("template") or {}).get("metadata")) or {}
        for key in meta.get("annotations") or {}:
            m = _SUBSCRIPTION.match(str(key))
            if not m:
                continue
            trigger, service = m.groups()
            if trigger not in trigger_names:
                yield Finding.of("notifications", obj, f"{key}: no trigger {trigger!r} in {values_file}")
            else:
                for template in sends[trigger]:
                    if template not in templates:
                        yield Finding.of(
                            "notifications",
                            obj,
                            f"trigger {trigger!r} sends template {template!r}, not in {values_file}",
                        )
            if service not in services:
                yield Finding.of(
                    "notifications", obj, f"{key}: no notifier service {service!r} in {values_file}"
                )


def _wave(obj: ManifestObject) -> int:
    try:
        return int(obj.annotations.get("argocd.argoproj.io/sync-wave", "0"))
    except ValueError:
        return 0


def _secret_refs(container: dict[str, Any]) -> set[str]:
    refs = {
        str((s.get("secretRef") or {}).get("name"))
        for s in container.get("envFrom") or []
        if s.get("secretRef")
    }
    refs |= {
        str(e["valueFrom"]["secretKeyRef"]["name"])
        for e in container.get("env") or []
        if (e.get("valueFrom") or {}).get("secretKeyRef")
    }
    return refs


def check_hooks(ctx: CheckContext) -> Iterator[Finding]:
    """A PreSync hook's Secrets must come from an ExternalSecret (or Secret) that Argo CD creates earlier:
    a PreSync hook in a lower sync wave. Ordinary resources are only applied after PreSync."""
    t = ctx.objects
    producers: dict[str, ManifestObject] = {}
    for es in t.of_kind("ExternalSecret"):
        target = ((es.doc.get("spec") or {}).get("target") or {}).get("name") or es.name
        producers[str(target)] = es
    for s in t.of_kind("Secret"):
        producers[s.name] = s
    for pod in t.pod_templates():
        phase = pod.owner.annotations.get("argocd.argoproj.io/hook")
        if phase != "PreSync":
            continue
        for c in pod.containers():
            for secret in sorted(_secret_refs(c)):
                producer = producers.get(secret)
                if producer is None:
                    yield Finding.of(
                        "hooks",
                        pod.owner,
                        f"PreSync hook needs Secret {secret!r}, which nothing in the target creates",
                    )
                elif producer.annotations.get("argocd.argoproj.io/hook") != "PreSync" or _wave(
                    producer
                ) >= _wave(pod.owner):
                    yield Finding.of(
                        "hooks",
                        pod.owner,
                        f"PreSync hook (wave {_wave(pod.owner)}) needs Secret {secret!r}, but {producer.ref} "
                        f"({producer.source}) is not a PreSync hook in an earlier wave: it would not exist yet",
                    )


CHECKS = [check_argocd, check_notifications, check_hooks]
