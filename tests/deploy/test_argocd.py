"""The Argo CD tree: planted mistakes in Applications/ApplicationSets are caught offline, and the bootstrap
script is shellcheck-clean and installs Argo CD only once (helm and kubectl are stand-ins: there is no cluster
here; they record what the script asks of them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gridctl.manifests.crosschecks import RepositoryConfig
from gridctl.manifests.validate import ValidationOptions, validate
from tests.support.manifests import ROOT, Repo, only

SCRIPT = ROOT / "deploy" / "argocd" / "bootstrap" / "install-argocd.sh"
ARGOCD = "deploy/argocd"


def test_clean_tree(repo: Repo) -> None:
    assert repo.validate(ARGOCD, "deploy/argocd/bootstrap").findings == []


def test_chart_version_range_is_rejected(repo: Repo) -> None:
    path = "deploy/argocd/apps/platform-loki.yaml"
    repo.plant(path, "targetRevision: 6.29.0", "targetRevision: 6.*")
    only(repo.findings(ARGOCD, check="argocd"), path, "ApplicationSet/platform-loki", "not an exact version")


def test_overlay_path_missing_for_one_environment(repo: Repo) -> None:
    (repo.root / "deploy/k8s/overlays/staging/kustomization.yaml").unlink()
    found = repo.findings(ARGOCD, check="argocd")
    only(found, "deploy/argocd/apps/gridos.yaml", "ApplicationSet/gridos", "deploy/k8s/overlays/staging")


def test_value_file_missing(repo: Repo) -> None:
    (repo.root / "deploy/argocd/values/alb-controller-prod.yaml").unlink()
    path = "deploy/argocd/apps/platform-alb-controller.yaml"
    only(
        repo.findings(ARGOCD, check="argocd"),
        path,
        "ApplicationSet/platform-alb-controller",
        "alb-controller-prod.yaml",
    )


def test_source_repository_not_allowed_by_project(repo: Repo) -> None:
    repo.plant("deploy/argocd/projects/platform.yaml", "    - https://grafana.github.io/helm-charts\n", "")
    path = "deploy/argocd/apps/platform-loki.yaml"
    only(repo.findings(ARGOCD, check="argocd"), path, "ApplicationSet/platform-loki", "sourceRepos")


def test_misspelled_sync_option_field(repo: Repo) -> None:
    path = "deploy/argocd/apps/gridos.yaml"
    repo.plant(path, "maxDuration: 5m", "maxDurration: 5m")
    found = repo.findings(ARGOCD, check="schema")
    f = only(found, path, "ApplicationSet/gridos", "maxDurration")
    assert f.message.startswith("spec.template.spec.syncPolicy.retry.backoff"), f.message


def test_bootstrap_script_is_shellcheck_clean() -> None:
    shellcheck = Path(sys.executable).parent / "shellcheck"
    proc = subprocess.run([str(shellcheck), "--severity=style", str(SCRIPT)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def stub(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f'#!/usr/bin/env bash\necho "{name} $*" >> "$CALLS"\n{body}\n')
    path.chmod(0o755)


@pytest.fixture
def tools(tmp_path: Path) -> tuple[dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    installed = tmp_path / "installed"
    stub(
        bin_dir,
        "kubectl",
        'if [[ "$1" == config ]]; then echo aks-gridos-dev; fi; cat >/dev/null 2>&1 || true',
    )
    stub(
        bin_dir,
        "helm",
        f'if [[ "$1" == status ]]; then [[ -f {installed} ]]; exit; fi\n'
        f'if [[ "$1" == upgrade ]]; then touch {installed}; fi',
    )
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls)}
    return env, calls


def test_bootstrap_installs_once_and_applies_the_root(tools: tuple[dict[str, str], Path]) -> None:
    env, calls = tools
    for _ in range(2):
        proc = subprocess.run(["bash", str(SCRIPT), "dev"], env=env, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
    log = calls.read_text().splitlines()
    installs = [line for line in log if line.startswith("helm upgrade --install argo-cd argo-cd")]
    assert len(installs) == 1, log  # idempotent: the second run finds the release and leaves it
    assert "--version 8.0.17" in installs[0] and "values-argocd.yaml" in installs[0]
    assert sum(line.endswith("bootstrap/root.yaml") for line in log) == 2  # kubectl apply is idempotent
    assert "already installed" in proc.stderr


def test_bootstrap_rejects_an_unknown_environment(tools: tuple[dict[str, str], Path]) -> None:
    env, calls = tools
    proc = subprocess.run(["bash", str(SCRIPT), "qa"], env=env, capture_output=True, text=True)
    assert proc.returncode == 2 and "usage:" in proc.stderr
    assert not calls.exists()


def test_subscription_to_a_trigger_that_does_not_exist(repo: Repo) -> None:
    repo.plant(
        "deploy/argocd/bootstrap/values-argocd.yaml", "trigger.on-health-degraded:", "trigger.on-degraded:"
    )
    found = repo.findings(ARGOCD, check="notifications")
    only(found, "deploy/argocd/apps/gridos.yaml", "ApplicationSet/gridos", "on-health-degraded")


def test_trigger_sends_a_template_that_does_not_exist(repo: Repo) -> None:
    repo.plant(
        "deploy/argocd/bootstrap/values-argocd.yaml", "send: [gridos-sync-failed]", "send: [gridos-sync-fail]"
    )
    found = repo.findings(ARGOCD, check="notifications")
    only(found, "deploy/argocd/apps/gridos.yaml", "ApplicationSet/gridos", "'gridos-sync-fail'")


def test_repository_url_is_configuration(repo: Repo) -> None:
    """Which repoURL is "this repository" comes from the bootstrap root Application (or --repository-url), not
    from the checks' code: a fork that points its root elsewhere gets no path checks on the upstream URL."""
    assert RepositoryConfig.discover(repo.root).repository_url == "https://github.com/gridos/gridos.git"
    (repo.root / "deploy/k8s/overlays/staging/kustomization.yaml").unlink()
    repo.plant(
        "deploy/argocd/bootstrap/root.yaml", "github.com/gridos/gridos.git", "git.example.org/fork.git"
    )
    assert not repo.findings(ARGOCD, check="argocd")  # the ApplicationSet's source is not this repository
    options = ValidationOptions(
        repo.root,
        gridos_url=repo.gridos_url,
        skip=frozenset({"checkov", "policies"}),
        targets=(ARGOCD,),
        repository_url="https://github.com/gridos/gridos.git",
    )
    found = [f for f in validate(options).findings if f.check == "argocd"]
    only(found, "deploy/argocd/apps/gridos.yaml", "ApplicationSet/gridos", "deploy/k8s/overlays/staging")
