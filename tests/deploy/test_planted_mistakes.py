"""Each case plants one mistake of the kind people really make in a copy of deploy/ and asserts that
`gridctl validate` fails with a message naming the file and the object at fault. One table row per mistake;
the few cases that need more than edits and one expected finding follow the table."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.support.manifests import Plant, Repo, only

BASE = "deploy/k8s/base"
ROLLOUT = f"{BASE}/rollout.yaml"
ROUTE = f"{BASE}/httproute.yaml"
PREVIEW = "deploy/k8s/overlays/preview"
DIGEST_LINE = r"    digest: sha256:[0-9a-f]{64}"


@dataclass(frozen=True)
class Mistake:
    id: str
    plants: tuple[Plant, ...]
    target: str
    check: str | None
    file: str
    obj: str
    words: tuple[str, ...]
    skip: tuple[str, ...] = ("checkov", "policies")
    # Other checks that must flag the same object (a policy and checkov agreeing with a cross-check).
    also: frozenset[str] = field(default_factory=frozenset)
    message_starts: str = ""


MISTAKES = [
    Mistake(
        "misspelled field in a custom resource",
        (Plant(ROLLOUT, "progressDeadlineAbort: true", "progressDeadlineAbrot: true"),),
        "prod", "schema", ROLLOUT, "Rollout/gridos", ("progressDeadlineAbrot",),
    ),
    Mistake(
        "misspelled field in the Rollout's pod template",
        (Plant(ROLLOUT, "readinessProbe:", "readinesProbe:"),),
        "staging", "schema", ROLLOUT, "Rollout/gridos", ("readinesProbe",),
        message_starts="spec.template.spec.containers[0]",
    ),
    Mistake(
        "misspelled field in a built-in kind",
        (Plant(f"{BASE}/pdb.yaml", "maxUnavailable: 1", "maxUnavailble: 1"),),
        "dev", "schema", f"{BASE}/pdb.yaml", "PodDisruptionBudget/gridos", ("maxUnavailble",),
    ),
    Mistake(
        "misspelled field in an Argo CD ApplicationSet",
        (Plant("deploy/argocd/apps/gridos.yaml", "selfHeal:", "selfHael:"),),
        "deploy/argocd", "schema", "deploy/argocd/apps/gridos.yaml", "ApplicationSet/gridos", ("selfHael",),
    ),
    Mistake(
        "misspelled field in an HTTPRoute (upstream Gateway API schema)",
        (Plant(ROUTE, "      backendRefs:", "      backendRef:"),),
        "prod", "schema", ROUTE, "HTTPRoute/gridos", ("backendRef",),
    ),
    Mistake(
        "misspelled TLS field of a Gateway listener",
        (Plant(f"{BASE}/gateway.yaml", "certificateRefs:", "certificateRef:"),),
        "dev", "schema", f"{BASE}/gateway.yaml", "Gateway/gridos", ("certificateRef",),
    ),
    Mistake(
        "WAF policy without the policy ID",
        (Plant(f"{BASE}/webapplicationfirewallpolicy.yaml", "webApplicationFirewall:\n    id:", "webApplicationFirewall:\n    ref:"),),
        "staging", "schema", f"{BASE}/webapplicationfirewallpolicy.yaml", "WebApplicationFirewallPolicy/gridos", ("ref",),
    ),
    Mistake(
        "HTTPRoute backend on a Service that does not exist",
        (Plant(ROUTE, "- name: gridos-canary", "- name: gridos-canry"),),
        "prod", "reference", ROUTE, "HTTPRoute/gridos", ("'gridos-canry'", "does not exist"),
    ),
    Mistake(
        "HTTPRoute backend on a port the Service does not have",
        (Plant(ROUTE, "port: 80\n          weight: 0", "port: 8000\n          weight: 0"),),
        "dev", "reference", ROUTE, "HTTPRoute/gridos", ("port 8000", "gridos-canary"),
    ),
    Mistake(
        "HTTPRoute without the canary backend the plugin shifts weight to",
        (Plant(ROUTE, "        - name: gridos-canary\n          port: 80\n          weight: 0\n", ""),),
        "staging", "reference", ROLLOUT, "Rollout/gridos", ("canaryService 'gridos-canary'", "HTTPRoute 'gridos'"),
    ),
    Mistake(
        "Rollout routes through an HTTPRoute that does not exist",
        (Plant(ROLLOUT, "httpRoute: gridos", "httpRoute: gridos-web"),),
        "prod", "reference", ROLLOUT, "Rollout/gridos", ("'gridos-web'", "no HTTPRoute"),
    ),
    Mistake(
        "traffic-router plugin not registered with the Argo Rollouts controller",
        (Plant("deploy/argocd/values/argo-rollouts.yaml", "- name: argoproj-labs/gatewayAPI", "- name: argoproj-labs/gatewayApi"),),
        "prod", "rollouts", ROLLOUT, "Rollout/gridos", ("'argoproj-labs/gatewayAPI'", "not registered", "argo-rollouts.yaml"),
    ),
    Mistake(
        "HTTPRoute attached to a listener the Gateway does not have",
        (Plant(ROUTE, "sectionName: https", "sectionName: tls"),),
        "dev", "reference", ROUTE, "HTTPRoute/gridos", ("'tls'", "not a listener"),
    ),
    Mistake(
        "overlay forgets the AGC resource ID of its Gateway",
        (Plant("deploy/k8s/overlays/staging/gateway-patch.yaml", "/providers/Microsoft.ServiceNetworking/trafficControllers/", "/providers/Microsoft.Network/applicationGateways/"),),
        "staging", "gateway", f"{BASE}/gateway.yaml", "Gateway/gridos", ("alb.networking.azure.io/alb-id",),
    ),
    Mistake(
        "WAF policy attached to a Gateway that does not exist",
        (Plant(f"{BASE}/webapplicationfirewallpolicy.yaml", "    name: gridos\n", "    name: gridos-gw\n"),),
        "prod", "reference", f"{BASE}/webapplicationfirewallpolicy.yaml", "WebApplicationFirewallPolicy/gridos",
        ("Gateway/gridos-gw", "does not exist"),
    ),
    Mistake(
        "preview namespace without a quota",
        (Plant(f"{PREVIEW}/kustomization.yaml", "  - resourcequota.yaml\n", ""),),
        "preview", "isolation", f"{PREVIEW}/namespace.yaml", "Namespace/gridos-preview", ("ResourceQuota",),
    ),
    Mistake(
        "preview namespace without a default-deny network policy",
        (Plant(f"{BASE}/kustomization.yaml", "  - networkpolicy-default-deny.yaml\n", ""),),
        "preview", "isolation", f"{PREVIEW}/namespace.yaml", "Namespace/gridos-preview", ("NetworkPolicy",),
    ),
    Mistake(
        "Service selector that matches nothing",
        (Plant(f"{BASE}/service-canary.yaml", "    app.kubernetes.io/component: api\n  ports", "    app.kubernetes.io/component: apl\n  ports"),),
        "prod", "selector", f"{BASE}/service-canary.yaml", "Service/gridos-canary", ("matches no pod",),
    ),
    Mistake(
        "Rollout names a missing AnalysisTemplate",
        (Plant(ROLLOUT, "- templateName: gridos-latency-p95", "- templateName: gridos-latency-p99"),),
        "prod", "analysis", ROLLOUT, "Rollout/gridos", ("gridos-latency-p99", "does not exist"),
    ),
    Mistake(
        "Rollout passes an undeclared arg",
        (Plant(ROLLOUT, '- name: count\n            value: "40"', '- name: cuont\n            value: "40"'),),
        "prod", "analysis", ROLLOUT, "Rollout/gridos", ("'cuont'", "declared by none"),
    ),
    Mistake(
        "required arg not passed",
        (
            Plant(
                f"{BASE}/analysistemplate-cpu-saturation.yaml",
                '    - name: cpu-limit-cores\n      value: "1"\n',
                "    - name: cpu-limit-cores\n    - name: site\n",
            ),
        ),
        "prod", "analysis", ROLLOUT, "Rollout/gridos", ("required arg 'site'",),
    ),
    Mistake(
        "analysis queries a metric GridOS does not export",
        (Plant(f"{BASE}/analysistemplate-error-rate.yaml", 'http_requests_total{namespace="{{args.namespace}}", rollouts_pod', 'http_requests_count{namespace="{{args.namespace}}", rollouts_pod'),),
        "prod", "metrics", f"{BASE}/analysistemplate-error-rate.yaml", "AnalysisTemplate/gridos-error-rate",
        ("http_requests_count", "/metrics"),
    ),
    Mistake(
        # The generated component is not ours to edit in the repository, but a copy shows the check covers it.
        "alert queries a metric GridOS does not export",
        (Plant("deploy/k8s/components/observability/generated/prometheusrule-gridos-service.yaml", "gridos_db_up", "gridos_database_up"),),
        "dev", "metrics", "deploy/k8s/components/observability/generated/prometheusrule-gridos-service.yaml",
        "PrometheusRule/gridos-service", ("gridos_database_up",),
    ),
    Mistake(
        "probe on an endpoint GridOS does not serve",
        (Plant(ROLLOUT, "path: /health/ready", "path: /healthz"),),
        "dev", "probes", ROLLOUT, "Rollout/gridos", ("/healthz", "404"),
    ),
    Mistake(
        "probe on a port that is not declared",
        (Plant(ROLLOUT, "path: /health/live\n              port: http", "path: /health/live\n              port: metrics"),),
        "dev", "probes", ROLLOUT, "Rollout/gridos", ("'metrics' is not a container port",),
    ),
    Mistake(
        "prod image by tag instead of digest",
        (Plant("deploy/k8s/overlays/prod/kustomization.yaml", DIGEST_LINE, "    newTag: 1.4.2", regex=True),),
        "prod", None, ROLLOUT, "Rollout/gridos", ("pinned by digest",),
        skip=("checkov",), also=frozenset({"policy image_digest"}),
    ),
    Mistake(
        "latest tag anywhere",
        (Plant("deploy/k8s/overlays/dev/kustomization.yaml", DIGEST_LINE, "    newTag: latest", regex=True),),
        "dev", "images", f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", ("latest",),
    ),
    Mistake(
        "termination grace shorter than the drain",
        (Plant(ROLLOUT, "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20"),),
        "prod", "runtime", ROLLOUT, "Rollout/gridos", ("GRIDOS_SHUTDOWN_GRACE_SECONDS",),
    ),
    Mistake(
        "CPU analysis divides by the wrong number",
        (Plant("deploy/k8s/overlays/dev/kustomization.yaml", 'value: "0.5"', 'value: "1"'),),
        "dev", "runtime", ROLLOUT, "Rollout/gridos", ("gridos.io/cpu-limit-cores",),
    ),
    Mistake(
        "migration Secret not created before the PreSync hook",
        (Plant(f"{BASE}/externalsecret-gridos.yaml", "    argocd.argoproj.io/hook: PreSync\n", ""),),
        "prod", "hooks", f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", ("gridos-secrets", "ExternalSecret/gridos"),
    ),
    Mistake(
        "ServiceMonitor on a port the Service does not have",
        (Plant(f"{BASE}/servicemonitor.yaml", "- port: http", "- port: metrics"),),
        "prod", "reference", f"{BASE}/servicemonitor.yaml", "ServiceMonitor/gridos", ("'metrics'",),
    ),
    Mistake(
        "privileged container fails the policy and checkov",
        (Plant(f"{BASE}/job-migrate.yaml", "privileged: false", "privileged: true"),),
        "dev", None, f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", ("privileged",),
        skip=(), also=frozenset({"policy privileged", "checkov"}),
    ),
    Mistake(
        "missing CPU limit fails the policy",
        (Plant(f"{BASE}/job-migrate.yaml", "            limits:\n              cpu: 500m\n", "            limits:\n"),),
        "dev", "policy limits", f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", ("limits.cpu",),
        skip=("checkov",),
    ),
]  # fmt: skip


@pytest.mark.parametrize("mistake", MISTAKES, ids=[m.id.replace(" ", "-") for m in MISTAKES])
def test_planted_mistake_is_named(repo: Repo, mistake: Mistake) -> None:
    for plant in mistake.plants:
        repo.apply(plant)
    found = repo.validate(mistake.target, skip=mistake.skip).findings
    relevant = [f for f in found if mistake.check is None or f.check == mistake.check]
    finding = only(relevant, mistake.file, mistake.obj, *mistake.words)
    assert finding.message.startswith(mistake.message_starts), finding.message
    checks = {f.check for f in found if f.obj == mistake.obj and f.file == mistake.file}
    assert mistake.also <= checks, found


def test_clean_copy_has_no_findings(repo: Repo) -> None:
    assert repo.validate("prod", "dev", "preview").findings == []


def test_unknown_kind_has_no_schema(repo: Repo) -> None:
    (repo.root / BASE / "mystery.yaml").write_text(
        "apiVersion: example.org/v1\nkind: Mystery\nmetadata:\n  name: m\n"
    )
    repo.plant(f"{BASE}/kustomization.yaml", "  - pdb.yaml\n", "  - pdb.yaml\n  - mystery.yaml\n")
    only(repo.findings("dev", check="schema"), f"{BASE}/mystery.yaml", "Mystery/m", "no schema")


def test_missing_rollout_transformer_configuration(repo: Repo) -> None:
    repo.plant(f"{BASE}/kustomization.yaml", "configurations:\n  - kustomizeconfig/rollout.yaml\n", "")
    # kustomize itself refuses the overlay's `replicas:` for a kind it does not know...
    (render_error,) = repo.findings("staging", check="render")
    assert render_error.file == "deploy/k8s/overlays/staging/kustomization.yaml"
    assert "gridos" in render_error.message and "{{" not in render_error.message
    # ...and without that entry, the labels silently stop at the Rollout's metadata.
    repo.plant(
        "deploy/k8s/overlays/staging/kustomization.yaml", "replicas:\n  - name: gridos\n    count: 3\n", ""
    )
    only(
        repo.findings("staging"),
        ROLLOUT,
        "Rollout/gridos",
        "app.kubernetes.io/instance",
        "did not reach the pod",
    )


def test_broken_kustomization_names_the_target(repo: Repo) -> None:
    repo.plant("deploy/k8s/overlays/staging/kustomization.yaml", "  - ../../base\n", "  - ../../bsae\n")
    found = repo.findings("staging", check="render")
    assert [f.file for f in found] == ["deploy/k8s/overlays/staging/kustomization.yaml"], found
