"""Cross-checks of plain Kubernetes and Gateway API objects: selectors select something, names resolve inside
the target, namespaces are consistent and isolated, images are pinned."""

from __future__ import annotations

from collections.abc import Iterator

from gridctl.manifests.crosschecks.context import (
    CheckContext,
    describe,
    label_selector,
    matches,
    service_ports,
)
from gridctl.manifests.findings import Finding, ManifestObject

GATEWAY_GROUP = "gateway.networking.k8s.io"
AGC_CLASS = "azure-alb-external"
AGC_ID = "alb.networking.azure.io/alb-id"
AGC_FRONTEND = "alb.networking.azure.io/alb-frontend"
PREVIEW_LABEL = "gridos.io/preview"


def check_selectors(ctx: CheckContext) -> Iterator[Finding]:
    """Services, PodDisruptionBudgets and NetworkPolicies select pods that some workload of the target runs."""
    t = ctx.objects
    pods = t.pod_templates()
    for svc in t.of_kind("Service"):
        selector = dict((svc.doc.get("spec") or {}).get("selector") or {})
        if selector and not any(matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", svc, f"selector {describe(selector)} matches no pod template")
    for pdb in t.of_kind("PodDisruptionBudget"):
        selector = label_selector((pdb.doc.get("spec") or {}).get("selector"))
        if not any(matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", pdb, f"selector {describe(selector)} matches no pod template")
    for np in t.of_kind("NetworkPolicy"):
        selector = label_selector((np.doc.get("spec") or {}).get("podSelector"))
        if selector and not any(matches(selector, p.labels) for p in pods):
            yield Finding.of("selector", np, f"podSelector {describe(selector)} matches no pod template")


def backend_refs(route: ManifestObject) -> list[tuple[int, str, str | None]]:
    """(rule index, Service name, port) of every Service backend of an HTTPRoute."""
    out = []
    for i, rule in enumerate((route.doc.get("spec") or {}).get("rules") or []):
        for ref in rule.get("backendRefs") or []:
            if ref.get("kind", "Service") == "Service" and ref.get("group", "") in ("", "core"):
                port = ref.get("port")
                out.append((i, str(ref.get("name")), str(port) if port is not None else None))
    return out


def _listeners(gateway: ManifestObject) -> set[str]:
    return {str(li.get("name")) for li in (gateway.doc.get("spec") or {}).get("listeners") or []}


def check_gateway_routes(ctx: CheckContext) -> Iterator[Finding]:
    """HTTPRoute backends are Services of the target on one of their ports; parentRefs name a Gateway of the
    target (when the target has Gateways) and one of its listeners; policies attached to a Gateway API object
    (targetRef) name one that exists."""
    t = ctx.objects
    gateways = {g.name: g for g in t.of_kind("Gateway")}
    for route in t.of_kind("HTTPRoute"):
        for i, name, port in backend_refs(route):
            svc = t.find("Service", name)
            if not svc:
                yield Finding.of("reference", route, f"rules[{i}] backend Service {name!r} does not exist")
            elif port and port not in service_ports(svc):
                yield Finding.of(
                    "reference", route, f"rules[{i}] backend port {port} is not a port of Service {name!r}"
                )
        for parent in (route.doc.get("spec") or {}).get("parentRefs") or []:
            if parent.get("kind", "Gateway") != "Gateway" or not gateways:
                continue
            gateway = gateways.get(str(parent.get("name")))
            if gateway is None:
                yield Finding.of(
                    "reference", route, f"parentRef Gateway {parent.get('name')!r} does not exist"
                )
            elif parent.get("sectionName") and parent["sectionName"] not in _listeners(gateway):
                yield Finding.of(
                    "reference",
                    route,
                    f"parentRef sectionName {parent['sectionName']!r} is not a listener of Gateway {gateway.name!r}",
                )
    for policy in t.objects:
        ref = (policy.doc.get("spec") or {}).get("targetRef") or {}
        if (
            ref.get("group") == GATEWAY_GROUP
            and ref.get("kind")
            and not t.find(ref["kind"], str(ref.get("name")))
        ):
            yield Finding.of("reference", policy, f"targetRef {ref['kind']}/{ref.get('name')} does not exist")


def check_agc_gateways(ctx: CheckContext) -> Iterator[Finding]:
    """A Gateway of Application Gateway for Containers (bring-your-own) names its AGC by resource ID and one
    frontend; without them the ALB controller cannot program it and the Gateway stays unaccepted."""
    for gw in ctx.objects.of_kind("Gateway"):
        spec = gw.doc.get("spec") or {}
        if spec.get("gatewayClassName") != AGC_CLASS:
            continue
        alb_id = gw.annotations.get(AGC_ID, "")
        if "/providers/Microsoft.ServiceNetworking/trafficControllers/" not in alb_id:
            yield Finding.of(
                "gateway", gw, f"annotation {AGC_ID} must be the AGC's resource ID (Terraform output agc_id)"
            )
        frontends = [
            a for a in spec.get("addresses") or [] if a.get("type") == AGC_FRONTEND and a.get("value")
        ]
        if len(frontends) != 1:
            yield Finding.of(
                "gateway", gw, f"needs exactly one address of type {AGC_FRONTEND} (an AGC frontend name)"
            )


def _ingress_backend_ports(ing: ManifestObject) -> list[tuple[str, str | None]]:
    out = []
    for rule in (ing.doc.get("spec") or {}).get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            svc = (path.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            out.append((str(svc.get("name")), str(port.get("name") or port.get("number") or "") or None))
    return out


def check_references(ctx: CheckContext) -> Iterator[Finding]:
    """Names that must resolve inside the target: Ingress backends, HPA target, ServiceMonitor Services and
    ports."""
    t = ctx.objects
    for ing in t.of_kind("Ingress"):
        for name, port in _ingress_backend_ports(ing):
            svc = t.find("Service", name)
            if not svc:
                yield Finding.of("reference", ing, f"backend Service {name!r} does not exist")
            elif port and port not in service_ports(svc):
                yield Finding.of("reference", ing, f"backend port {port!r} is not a port of Service {name!r}")
    for hpa in t.of_kind("HorizontalPodAutoscaler"):
        ref = (hpa.doc.get("spec") or {}).get("scaleTargetRef") or {}
        if not t.find(str(ref.get("kind")), str(ref.get("name"))):
            yield Finding.of(
                "reference", hpa, f"scaleTargetRef {ref.get('kind')}/{ref.get('name')} does not exist"
            )
    for sm in t.of_kind("ServiceMonitor"):
        spec = sm.doc.get("spec") or {}
        selector = label_selector(spec.get("selector"))
        services = [s for s in t.of_kind("Service") if matches(selector, s.labels)]
        if not services:
            yield Finding.of("reference", sm, f"selector {describe(selector)} matches no Service")
        for ep in spec.get("endpoints") or []:
            port = ep.get("port")
            if port and services and not any(port in service_ports(s) for s in services):
                yield Finding.of(
                    "reference", sm, f"endpoint port {port!r} is not a port of the selected Services"
                )


CLUSTER_SCOPED = frozenset(
    {
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "ClusterSecretStore",
        "CustomResourceDefinition",
        "ClusterAnalysisTemplate",
        "GatewayClass",
        "IngressClass",
        "PriorityClass",
        "StorageClass",
        "PersistentVolume",
        "ValidatingWebhookConfiguration",
        "MutatingWebhookConfiguration",
    }
)


def check_namespaces(ctx: CheckContext) -> Iterator[Finding]:
    """In a target that sets a namespace, every namespaced object has it (a component's resources added after
    an overlay's namespace transformer silently land in `default`)."""
    namespaced = [o for o in ctx.objects.objects if o.kind not in CLUSTER_SCOPED]
    namespaces = {o.namespace for o in namespaced if o.namespace}
    if len(namespaces) == 1:
        (expected,) = namespaces
        for o in namespaced:
            if not o.namespace:
                yield Finding.of(
                    "namespace", o, f"has no namespace while the rest of the target is in {expected!r}"
                )


def _default_deny(np: ManifestObject) -> bool:
    spec = np.doc.get("spec") or {}
    return (
        not label_selector(spec.get("podSelector"))
        and not spec.get("ingress")
        and "Ingress" in (spec.get("policyTypes") or [])
    )


def check_isolation(ctx: CheckContext) -> Iterator[Finding]:
    """A preview Namespace (label gridos.io/preview) comes with what keeps previews apart: a ResourceQuota and
    a LimitRange in it (one pull request cannot starve the cluster) and a default-deny NetworkPolicy."""
    t = ctx.objects
    for ns in t.of_kind("Namespace"):
        if ns.labels.get(PREVIEW_LABEL) != "true":
            continue
        inside = [o for o in t.objects if o.namespace == ns.name]
        for kind, why in (
            ("ResourceQuota", "one pull request could take the cluster's capacity"),
            ("LimitRange", "pods without requests would escape the quota"),
        ):
            if not any(o.kind == kind for o in inside):
                yield Finding.of("isolation", ns, f"preview namespace without a {kind}: {why}")
        if not any(o.kind == "NetworkPolicy" and _default_deny(o) for o in inside):
            yield Finding.of(
                "isolation",
                ns,
                "preview namespace without a default-deny NetworkPolicy: previews could reach each other",
            )


def _image_environment(obj: ManifestObject) -> str | None:
    return obj.labels.get("gridos.io/environment") or obj.environment


def check_images(ctx: CheckContext) -> Iterator[Finding]:
    """No `latest` (explicit or implied by a missing tag) anywhere; prod images pinned by digest."""
    for pod in ctx.objects.pod_templates():
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


CHECKS = [
    check_selectors,
    check_references,
    check_gateway_routes,
    check_agc_gateways,
    check_images,
    check_namespaces,
    check_isolation,
]
