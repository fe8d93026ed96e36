"""Each test plants one mistake of the kind people really make in a copy of deploy/ and asserts that
`gridctl validate` fails with a message naming the file and the object at fault."""

from __future__ import annotations

import pytest

from gridctl.manifests.findings import Finding
from tests.deploy.conftest import Repo

BASE = "deploy/k8s/base"


def only(findings: list[Finding], file: str, obj: str, *words: str) -> Finding:
    """The one finding for `obj` in `file` whose message contains all `words`."""
    matching = [f for f in findings if f.file == file and f.obj == obj and all(w in f.message for w in words)]
    assert matching, "\n".join(map(str, findings)) or "no findings at all"
    text = str(matching[0])
    assert text.startswith(f"{file}: {obj}"), text  # the printed line names the file, then the object
    return matching[0]


def test_clean_copy_has_no_findings(repo: Repo) -> None:
    assert repo.validate("prod", "dev").findings == []


def test_misspelled_field_in_a_custom_resource(repo: Repo) -> None:
    repo.plant(f"{BASE}/rollout.yaml", "progressDeadlineAbort: true", "progressDeadlineAbrot: true")
    found = repo.findings("prod", check="schema")
    only(found, f"{BASE}/rollout.yaml", "Rollout/gridos", "progressDeadlineAbrot")


def test_misspelled_field_in_the_rollouts_pod_template(repo: Repo) -> None:
    repo.plant(f"{BASE}/rollout.yaml", "readinessProbe:", "readinesProbe:")
    found = repo.findings("staging", check="schema")
    f = only(found, f"{BASE}/rollout.yaml", "Rollout/gridos", "readinesProbe")
    assert f.message.startswith("spec.template.spec.containers[0]"), f.message


def test_misspelled_field_in_a_builtin_kind(repo: Repo) -> None:
    repo.plant(f"{BASE}/pdb.yaml", "maxUnavailable: 1", "maxUnavailble: 1")
    only(
        repo.findings("dev", check="schema"),
        f"{BASE}/pdb.yaml",
        "PodDisruptionBudget/gridos",
        "maxUnavailble",
    )


def test_misspelled_field_in_an_argo_cd_application(repo: Repo) -> None:
    path = "deploy/argocd/apps/gridos.yaml"
    if not (repo.root / path).exists():
        pytest.skip("Argo CD tree not present yet")
    repo.plant(path, "selfHeal:", "selfHael:")
    only(repo.findings("deploy/argocd", check="schema"), path, "ApplicationSet/gridos", "selfHael")


def test_unknown_kind_has_no_schema(repo: Repo) -> None:
    (repo.root / BASE / "mystery.yaml").write_text(
        "apiVersion: example.org/v1\nkind: Mystery\nmetadata:\n  name: m\n"
    )
    repo.plant(f"{BASE}/kustomization.yaml", "  - pdb.yaml\n", "  - pdb.yaml\n  - mystery.yaml\n")
    only(repo.findings("dev", check="schema"), f"{BASE}/mystery.yaml", "Mystery/m", "no schema")


def test_service_selector_that_matches_nothing(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/service-canary.yaml",
        "app.kubernetes.io/component: api\nspec",
        "app.kubernetes.io/component: api\nspec",
    )
    repo.plant(
        f"{BASE}/service-canary.yaml",
        "    app.kubernetes.io/component: api\n  ports",
        "    app.kubernetes.io/component: apl\n  ports",
    )
    only(
        repo.findings("prod", check="selector"),
        f"{BASE}/service-canary.yaml",
        "Service/gridos-canary",
        "matches no pod",
    )


def test_rollout_names_a_missing_analysis_template(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/rollout.yaml",
        "- templateName: gridos-latency-p95",
        "- templateName: gridos-latency-p99",
        count=1,
    )
    only(
        repo.findings("prod", check="analysis"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "gridos-latency-p99",
        "does not exist",
    )


def test_rollout_passes_an_undeclared_arg(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/rollout.yaml",
        '- name: count\n            value: "40"',
        '- name: cuont\n            value: "40"',
    )
    only(
        repo.findings("prod", check="analysis"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "'cuont'",
        "declared by none",
    )


def test_required_arg_not_passed(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/analysistemplate-cpu-saturation.yaml",
        '    - name: cpu-limit-cores\n      value: "1"\n',
        "    - name: cpu-limit-cores\n    - name: site\n",
    )
    only(
        repo.findings("prod", check="analysis"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "required arg 'site'",
    )


def test_analysis_queries_a_metric_gridos_does_not_export(repo: Repo) -> None:
    path = f"{BASE}/analysistemplate-error-rate.yaml"
    repo.plant(
        path,
        'http_requests_total{namespace="{{args.namespace}}", rollouts_pod_template_hash="{{args.canary-hash}}", route=~"/api/.*"}',
        'http_requests_count{namespace="{{args.namespace}}", rollouts_pod_template_hash="{{args.canary-hash}}", route=~"/api/.*"}',
    )
    f = only(
        repo.findings("prod", check="metrics"),
        path,
        "AnalysisTemplate/gridos-error-rate",
        "http_requests_count",
    )
    assert "/metrics" in f.message  # says what it was checked against


def test_alert_queries_a_metric_gridos_does_not_export(repo: Repo) -> None:
    # The generated component is not ours to edit in the repository, but a copy shows the check covers it.
    path = "deploy/k8s/components/observability/generated/prometheusrule-gridos-service.yaml"
    repo.plant(path, "gridos_db_up", "gridos_database_up")
    only(repo.findings("dev", check="metrics"), path, "PrometheusRule/gridos-service", "gridos_database_up")


def test_probe_on_an_endpoint_gridos_does_not_serve(repo: Repo) -> None:
    repo.plant(f"{BASE}/rollout.yaml", "path: /health/ready", "path: /healthz")
    only(repo.findings("dev", check="probes"), f"{BASE}/rollout.yaml", "Rollout/gridos", "/healthz", "404")


def test_probe_on_a_port_that_is_not_declared(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/rollout.yaml",
        "path: /health/live\n              port: http",
        "path: /health/live\n              port: metrics",
    )
    only(
        repo.findings("dev", check="probes"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "'metrics' is not a container port",
    )


def test_prod_image_by_tag_instead_of_digest(repo: Repo) -> None:
    path = "deploy/k8s/overlays/prod/kustomization.yaml"
    text = (repo.root / path).read_text()
    digest_line = next(line for line in text.splitlines() if "digest: sha256:" in line)
    repo.plant(path, digest_line, "    newTag: 1.4.2")
    found = repo.validate("prod", skip=("checkov",)).findings
    only(found, f"{BASE}/rollout.yaml", "Rollout/gridos", "pinned by digest")
    assert any(f.check == "policy image_digest" and f.obj == "Rollout/gridos" for f in found)


def test_latest_tag_anywhere(repo: Repo) -> None:
    path = "deploy/k8s/overlays/dev/kustomization.yaml"
    text = (repo.root / path).read_text()
    digest_line = next(line for line in text.splitlines() if "digest: sha256:" in line)
    repo.plant(path, digest_line, "    newTag: latest")
    only(repo.findings("dev", check="images"), f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", "latest")


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
    found = repo.findings("staging")
    only(
        found, f"{BASE}/rollout.yaml", "Rollout/gridos", "app.kubernetes.io/instance", "did not reach the pod"
    )


def test_termination_grace_shorter_than_the_drain(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/rollout.yaml", "terminationGracePeriodSeconds: 30", "terminationGracePeriodSeconds: 20"
    )
    only(
        repo.findings("prod", check="runtime"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "GRIDOS_SHUTDOWN_GRACE_SECONDS",
    )


def test_cpu_analysis_divides_by_the_wrong_number(repo: Repo) -> None:
    repo.plant("deploy/k8s/overlays/dev/kustomization.yaml", 'value: "0.5"', 'value: "1"')
    only(
        repo.findings("dev", check="runtime"),
        f"{BASE}/rollout.yaml",
        "Rollout/gridos",
        "gridos.io/cpu-limit-cores",
    )


def test_migration_secret_not_created_before_the_presync_hook(repo: Repo) -> None:
    repo.plant(f"{BASE}/externalsecret-gridos.yaml", "    argocd.argoproj.io/hook: PreSync\n", "")
    f = only(
        repo.findings("prod", check="hooks"),
        f"{BASE}/job-migrate.yaml",
        "Job/gridos-migrate",
        "gridos-secrets",
    )
    assert "ExternalSecret/gridos" in f.message


def test_stable_ingress_missing(repo: Repo) -> None:
    repo.plant(f"{BASE}/rollout.yaml", "stableIngress: gridos", "stableIngress: gridos-web")
    only(repo.findings("prod", check="reference"), f"{BASE}/rollout.yaml", "Rollout/gridos", "gridos-web")


def test_servicemonitor_port_missing(repo: Repo) -> None:
    repo.plant(f"{BASE}/servicemonitor.yaml", "- port: http", "- port: metrics")
    only(
        repo.findings("prod", check="reference"),
        f"{BASE}/servicemonitor.yaml",
        "ServiceMonitor/gridos",
        "'metrics'",
    )


def test_broken_kustomization_names_the_target(repo: Repo) -> None:
    repo.plant("deploy/k8s/overlays/staging/kustomization.yaml", "  - ../../base\n", "  - ../../bsae\n")
    found = repo.findings("staging", check="render")
    assert [f.file for f in found] == ["deploy/k8s/overlays/staging/kustomization.yaml"], found


def test_privileged_container_fails_policy_and_checkov(repo: Repo) -> None:
    repo.plant(f"{BASE}/job-migrate.yaml", "privileged: false", "privileged: true")
    found = repo.validate("dev", skip=()).findings
    only(found, f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", "privileged")
    checks = {f.check for f in found if f.obj == "Job/gridos-migrate"}
    assert {"policy privileged", "checkov"} <= checks, found


def test_missing_limits_fail_policy(repo: Repo) -> None:
    repo.plant(
        f"{BASE}/job-migrate.yaml", "            limits:\n              cpu: 500m\n", "            limits:\n"
    )
    found = repo.validate("dev", skip=("checkov",)).findings
    f = only(found, f"{BASE}/job-migrate.yaml", "Job/gridos-migrate", "limits.cpu")
    assert f.check == "policy limits"
