"""`make check-infra` runs `terraform fmt -check -recursive`: the tree is formatted, and the check the Makefile
runs fails on a file that is not. Skipped only where no terraform binary exists (the Makefile says so too)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = shutil.which("terraform")
pytestmark = pytest.mark.skipif(TERRAFORM is None, reason="no terraform binary on PATH")


def _fmt_check(path: Path) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull}
    return subprocess.run(
        [TERRAFORM, "fmt", "-check", "-recursive", str(path)], capture_output=True, text=True, env=env
    )


def test_tree_is_formatted() -> None:
    result = _fmt_check(ROOT / "infra" / "terraform")
    assert result.returncode == 0, result.stdout + result.stderr


def test_misformatted_file_fails(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "infra" / "terraform" / "modules" / "acr", tmp_path / "acr")
    main = tmp_path / "acr" / "main.tf"
    main.write_text(main.read_text().replace(" = ", "=", 1))
    result = _fmt_check(tmp_path)
    assert result.returncode != 0 and "main.tf" in result.stdout


def test_required_version_admits_this_terraform() -> None:
    assert TERRAFORM is not None
    version = subprocess.run([TERRAFORM, "version"], capture_output=True, text=True).stdout.split()[1]
    constraint = (ROOT / "infra/terraform/environments/dev/versions.tf").read_text()
    major, minor, _ = version.lstrip("v").split(".")
    assert f'required_version = "~> {major}.{minor}.' in constraint, (version, constraint)
