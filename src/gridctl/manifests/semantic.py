"""Cross-checks between the objects of one rendered target: what schemas cannot see. Each check names the
file and object at fault."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.promql import metric_names
from gridctl.manifests.reference import GridosReference

WORKLOAD_KINDS = ("Rollout", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
# Series GridOS queries that other exporters provide, each documented in docs/deploy.md:
# `up` (Prometheus itself, target health) and `rollout_info` (the Argo Rollouts controller's metrics).
OUTSIDE_METRICS = frozenset({"up", "rollout_info"})
CPU_LIMIT_ANNOTATION = "gridos.io/cpu-limit-cores"
_ARG_PLACEHOLDER = re.compile(r"\{\{\s*args\.[\w.-]+\s*\}\}")
_FIELD_REF = re.compile(r"^metadata\.(annotations|labels)\['([^']+)'\]$")


@dataclass(frozen=True)
class PodTemplate:
    owner: ManifestObject
    labels: dict[str, str]
    spec: dict[str, Any]

    def containers(self) -> list[dict[str, Any]]:
        return list(self.spec.get("containers") or []) + list(self.spec.get("initContainers") or [])


class Target:
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


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _label_selector(sel: dict[str, Any] | None) -> dict[str, str]:
    return dict((sel or {}).get("matchLabels") or {})


def _describe(selector: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def check_selectors(t: Target) -> Iterator[Finding]:
    """Services, PodDisruptionBudgets and NetworkPolicies select pods that some workload of the target runs."""
    pods = t.pod_templates()
    for svc in t.of_kind("Service"):
        selector = dict((svc.doc.get("spec") or {}).get("selector") or {})
        if selector and not any(_matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", svc, f"selector {_describe(selector)} matches no pod template")
    for pdb in t.of_kind("PodDisruptionBudget"):
        selector = _label_selector((pdb.doc.get("spec") or {}).get("selector"))
        if not any(_matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", pdb, f"selector {_describe(selector)} matches no pod template")
    for np in t.of_kind("NetworkPolicy"):
        selector = _label_selector((np.doc.get("spec") or {}).get("podSelector"))
        if selector and not any(_matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", np, f"podSelector {_describe(selector)} matches no pod template")


def _service_ports(svc: ManifestObject) -> set[str]:
    ports = (svc.doc.get("spec") or {}).get("ports") or []
    return {str(p.get("name")) for p in ports if p.get("name")} | {str(p.get("port")) for p in ports}


def check_references(t: Target) -> Iterator[Finding]:
    """Names that must resolve inside the target: Rollout Services and Ingress, Ingress backends, HPA target,
    ServiceMonitor Services and ports."""
    for ro in t.of_kind("Rollout"):
        strategy = (ro.doc.get("spec") or {}).get("strategy") or {}
        canary, bluegreen = strategy.get("canary") or {}, strategy.get("blueGreen") or {}
        for role, name in (
            ("canaryService", canary.get("canaryService")),
            ("stableService", canary.get("stableService")),
            ("activeService", bluegreen.get("activeService")),
            ("previewService", bluegreen.get("previewService")),
        ):
            if name and not t.find("Service", name):
                yield Finding.of("reference", ro, f"{role} {name!r}: no Service of that name")
        ingress_name = ((canary.get("trafficRouting") or {}).get("nginx") or {}).get("stableIngress")
        if ingress_name:
            ing = t.find("Ingress", ingress_name)
            if not ing:
                yield Finding.of("reference", ro, f"stableIngress {ingress_name!r}: no Ingress of that name")
            elif canary.get("stableService") not in _ingress_backends(ing):
                yield Finding.of(
                    "reference",
                    ro,
                    f"Ingress {ingress_name!r} has no backend on stableService "
                    f"{canary.get('stableService')!r}, which trafficRouting.nginx requires",
                )
    for ing in t.of_kind("Ingress"):
        for name, port in _ingress_backend_ports(ing):
            svc = t.find("Service", name)
            if not svc:
                yield Finding.of("reference", ing, f"backend Service {name!r} does not exist")
            elif port and port not in _service_ports(svc):
                yield Finding.of("reference", ing, f"backend port {port!r} is not a port of Service {name!r}")
    for hpa in t.of_kind("HorizontalPodAutoscaler"):
        ref = (hpa.doc.get("spec") or {}).get("scaleTargetRef") or {}
        if not t.find(str(ref.get("kind")), str(ref.get("name"))):
            yield Finding.of(
                "reference", hpa, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist"
            )
    for sm in t.of_kind("ServiceMonitor"):
        spec = sm.doc.get("spec") or {}
        selector = _label_selector(spec.get("selector"))
        services = [s for s in t.of_kind("Service") if _matches(selector, s.labels)]
        if not services:
            yield Finding.of("reference", sm, f"selector {_describe(selector)} matches no Service")
        for ep in spec.get("endpoints") or []:
            port = ep.get("port")
            if port and services and not any(port in _service_ports(s) for s in services):
                yield Finding.of(
                    "reference", sm, f"endpoint port {port!r} is not a port of the selected Services"
                )


def _ingress_backend_ports(ing: ManifestObject) -> list[tuple[str, str | None]]:
    out = []
    for rule in (ing.doc.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            svc = (path.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            out.append((str(svc.get("name")), str(port.get("name") or port.get("number") or "") or None))
    return out


def _ingress_backends(ing: ManifestObject) -> set[str]:
    return {name for name, _ in _ingress_backend_ports(ing)}


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


def check_analysis(t: Target) -> Iterator[Finding]:
    """Every AnalysisTemplate a Rollout runs exists; every arg it passes is declared; every arg without a
    default is passed; fieldRef args point at metadata the Rollout has."""
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


def _queries(t: Target) -> Iterator[tuple[ManifestObject, str, str]]:
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


def check_metrics(t: Target, reference: GridosReference) -> Iterator[Finding]:
    """Every series an AnalysisTemplate or alert reads is exported by the running GridOS (or is a recording
    rule of the target, or one of OUTSIDE_METRICS)."""
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


def check_probes(t: Target, reference: GridosReference | None) -> Iterator[Finding]:
    """Probes target a declared container port that GridOS listens on (GRIDOS_PORT) and, checked against the
    running GridOS, a path that answers 200."""
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


_WEB_URL = re.compile(r"^https?://([^/:]+)(?::\d+)?(/[^?#]*)?")


def check_web_metrics(t: Target, reference: GridosReference | None) -> Iterator[Finding]:
    """Web metrics of AnalysisTemplates call a Service of the target, on a path that answers 200 on a running
    GridOS."""
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


CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterSecretStore",
        "CustomResourceDefinition",
        "ClusterAnalysisTemplate",
        "IngressClass",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)


def check_namespaces(t: Target) -> Iterator[Finding]:
    """In a target that sets a namespace, every namespaced object has it (a component's resources added after
    an overlay's namespace transformer silently land in `default`)."""
    namespaced = [o for o in t.objects if o.kind not in CLUSTER_SCOPED]
    namespaces = {o.namespace for o in namespaced if o.namespace}
    if len(namespaces) == 1:
        (expected,) = namespaces
        for o in namespaced:
            if not o.namespace:
                yield Finding.of(
                    "namespace", o, f"has no namespace while the rest of the target is in {expected!r}"
                )


def _image_environment(obj: ManifestObject) -> str | None:
    return obj.labels.get("gridos.io/environment") or obj.environment


def check_images(t: Target) -> Iterator[Finding]:
    """No `latest` (explicit or implied by a missing tag) anywhere; prod images pinned by digest."""
    for pod in t.pod_templates():
        for c in pod.containers():
            image = str(c.get("image", ""))
            name, digest = image.partition("@")[::2]
            tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else None
            where = f"container {c.get('name')!r} image {image!r}"
            if not digest and (tag is None or tag == "latest"):
                yield Finding.of("images", pod.owner, f"{where}: `latest` (no tag or digest) is not allowed")
            elif tag == "latest":
                yield Finding.of("images", pod.owner, f"{where}: the `latest` tag is not allowed")
            if _image_environment(pod.owner) == "prod" and not digest.startswith("sha256:"):
                yield Finding.of(
                    "images", pod.owner, f"{where}: prod images must be pinned by digest (@sha256:...)"
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


def check_hooks(t: Target) -> Iterator[Finding]:
    """A PreSync hook's Secrets must come from an ExternalSecret (or Secret) that Argo CD creates earlier:
    a PreSync hook in a lower sync wave. Ordinary resources are only applied after PreSync."""
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


def _cpu_cores(quantity: Any) -> float | None:
    text = str(quantity)
    try:
        return float(text[:-1]) / 1000 if text.endswith("m") else float(text)
    except ValueError:
        return None


def check_runtime(t: Target) -> Iterator[Finding]:
    """The pod spec agrees with GridOS: termination grace outlasts preStop + GRIDOS_SHUTDOWN_GRACE_SECONDS;
    the CPU analysis divides by the cores one GridOS process can use."""
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


GIT_REPOSITORY = "https://github.com/gridos/gridos.git"
ENVIRONMENTS = ("dev", "staging", "prod")
_ENV_TEMPLATE = re.compile(r"\{\{[^}]*gridos\.io/environment[^}]*\}\}")
_EXACT_VERSION = re.compile(r"^v?\d+\.\d+\.\d+(?:[-+][\w.]+)?$")


def _application_specs(t: Target) -> Iterator[tuple[ManifestObject, dict[str, Any]]]:
    for app in t.of_kind("Application"):
        yield app, app.doc.get("spec") or {}
    for appset in t.of_kind("ApplicationSet"):
        yield appset, ((appset.doc.get("spec") or {}).get("template") or {}).get("spec") or {}


def _expand(text: str) -> list[str]:
    """A path or value file per environment when it is templated on the environment label."""
    return [_ENV_TEMPLATE.sub(env, text) for env in ENVIRONMENTS] if _ENV_TEMPLATE.search(text) else [text]


def check_argocd(t: Target, root: Path) -> Iterator[Finding]:
    """Applications and ApplicationSets: their project exists and allows their sources and destination
    namespace; paths and value files of this repository exist (per environment when templated); charts are
    pinned to an exact version."""
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
            if repo == GIT_REPOSITORY and source.get("path"):
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
        if allowed and namespace and not any(d.get("namespace") in (namespace, "*") for d in destinations):
            yield Finding.of(
                "argocd", obj, f"destination namespace {namespace!r} is not allowed by project {project!r}"
            )


ARGOCD_VALUES = Path("deploy/argocd/bootstrap/values-argocd.yaml")
_SUBSCRIPTION = re.compile(r"^notifications\.argoproj\.io/subscribe\.([\w-]+)\.([\w-]+)$")


def _notifications(root: Path) -> tuple[set[str], set[str], dict[str, list[str]], set[str]] | None:
    """(triggers, services, trigger -> templates it sends, templates) of the Argo CD chart values."""
    path = root / ARGOCD_VALUES
    if not path.is_file():
        return None
    values = (yaml.safe_load(path.read_text()) or {}).get("notifications") or {}
    triggers: dict[str, list[str]] = {}
    for key, body in (values.get("triggers") or {}).items():
        conditions = yaml.safe_load(body) or []
        triggers[key.removeprefix("trigger.")] = [str(t) for c in conditions for t in c.get("send") or []]
    services = {k.split(".")[-1] for k in values.get("notifiers") or {} if k.startswith("service.")}
    templates = {k.removeprefix("template.") for k in values.get("templates") or {}}
    return set(triggers), services, triggers, templates


def check_notifications(t: Target, root: Path) -> Iterator[Finding]:
    """Subscriptions on Applications name a trigger and a notifier that the Argo CD values define, and every
    trigger sends templates that exist."""
    config = _notifications(root)
    if config is None:
        return
    trigger_names, services, sends, templates = config
    for obj in t.of_kind("Application", "ApplicationSet"):
        meta = obj.doc.get("metadata") or {}
        if obj.kind == "ApplicationSet":
            meta = (((obj.doc.get("spec") or {}).get("template") or {}).get("metadata")) or {}
        for key in meta.get("annotations") or {}:
            m = _SUBSCRIPTION.match(str(key))
            if not m:
                continue
            trigger, service = m.groups()
            if trigger not in trigger_names:
                yield Finding.of("notifications", obj, f"{key}: no trigger {trigger!r} in {ARGOCD_VALUES}")
            else:
                for template in sends[trigger]:
                    if template not in templates:
                        yield Finding.of(
                            "notifications",
                            obj,
                            f"trigger {trigger!r} sends template {template!r}, not in {ARGOCD_VALUES}",
                        )
            if service not in services:
                yield Finding.of(
                    "notifications", obj, f"{key}: no notifier service {service!r} in {ARGOCD_VALUES}"
                )


CHECKS: list[Callable[[Target], Iterator[Finding]]] = [
    check_selectors,
    check_references,
    check_analysis,
    check_images,
    check_hooks,
    check_runtime,
    check_namespaces,
]


def check_target(
    objects: list[ManifestObject], reference: GridosReference | None, root: Path | None = None
) -> list[Finding]:
    t = Target(objects)
    findings = [f for check in CHECKS for f in check(t)]
    if root is not None:
        findings += list(check_argocd(t, root))
        findings += list(check_notifications(t, root))
    findings += list(check_probes(t, reference))
    findings += list(check_web_metrics(t, reference))
    if reference is not None:
        findings += list(check_metrics(t, reference))
    return findings
