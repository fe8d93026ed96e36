"""renovate.json covers every pinned version in the repository (gridctl.delivery.renovate scans for them
independently of Renovate), and a new pin without a rule, or a rule that stops matching, fails here."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gridctl.delivery.renovate import RenovateConfig, dead_custom_managers, scan, uncovered

ROOT = Path(__file__).resolve().parents[2]
PARTS = ("renovate.json", "Dockerfile", "Makefile", "pyproject.toml", "package.json", ".github", ".ci", "deploy",
         "infra", "mk", "scripts", "tools")  # fmt: skip


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for part in PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / part)
        else:
            shutil.copy(src, tmp_path / part)
    return tmp_path


def test_every_pin_is_covered() -> None:
    pins = scan(ROOT)
    kinds = {p.kind for p in pins}
    # The scanners do find each kind the issue names; an empty scan would make the test vacuous.
    assert {"action", "base image digest", "Argo CD chart", "Terraform version", "Python dependency",
            "npm dependency", "kustomize image"} <= kinds, kinds  # fmt: skip
    assert [str(p) for p in uncovered(ROOT)] == []


def test_no_custom_manager_is_dead() -> None:
    assert dead_custom_managers(ROOT) == []


def test_a_new_tool_pin_without_a_rule_is_reported(copy: Path) -> None:
    workflow = copy / ".github/workflows/infra-test.yml"
    workflow.write_text(
        workflow.read_text().replace("  TFLINT_VERSION:", "  TRIVY_VERSION: v0.58.1\n  TFLINT_VERSION:", 1)
    )
    (pin,) = uncovered(copy)
    assert pin.file == ".github/workflows/infra-test.yml" and pin.value == "v0.58.1", pin


def test_argocd_apps_need_their_file_patterns(copy: Path) -> None:
    config = json.loads((copy / "renovate.json").read_text())
    del config["argocd"]
    found = uncovered(copy, RenovateConfig(config))
    assert {p.kind for p in found} == {"Argo CD chart"}
    assert {p.file for p in found} >= {"deploy/argocd/apps/platform-alb-controller.yaml"}


def test_renamed_variable_makes_a_custom_manager_dead(copy: Path) -> None:
    script = copy / "deploy/argocd/bootstrap/install-argocd.sh"
    script.write_text(script.read_text().replace("CHART_VERSION=", "ARGOCD_CHART=", 1))
    assert dead_custom_managers(copy) == ["Argo CD chart of the bootstrap script"]


def test_updates_are_grouped_scheduled_and_digests_pinned() -> None:
    config = json.loads((ROOT / "renovate.json").read_text())
    assert config["schedule"] and config["lockFileMaintenance"]["enabled"] is True
    assert "helpers:pinGitHubActionDigests" in config["extends"] and "docker:pinDigests" in config["extends"]
    groups = {r.get("groupName") for r in config["packageRules"]}
    assert {"GitHub Actions", "Terraform", "Python (non-major)", "npm (non-major)"} <= groups
