"""A throw-away GitOps repository for the delivery tests: three overlays with comments, in a real Git repo."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from gridctl.cli import app
from gridctl.delivery.image import ENVIRONMENTS

FIXTURES = Path(__file__).parent / "fixtures"
REGISTRY = "gridosacr.azurecr.io/gridos"
GRIDCTL = str(Path(sys.executable).parent / "gridctl")


def digest(seed: str) -> str:
    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def image(seed: str) -> str:
    return f"{REGISTRY}@{digest(seed)}"


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def init_repo(root: Path) -> Path:
    """main branch, one commit holding deploy/k8s/overlays/{dev,staging,prod}/kustomization.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    git(root, "config", "user.name", "test")
    git(root, "config", "user.email", "test@example.invalid")
    template = (FIXTURES / "kustomization.yaml").read_text()
    for env in ENVIRONMENTS:
        overlay = root / "deploy" / "k8s" / "overlays" / env / "kustomization.yaml"
        overlay.parent.mkdir(parents=True)
        overlay.write_text(template.replace("{env}", env))
    git(root, "add", ".")
    git(root, "commit", "--quiet", "-m", "overlays")
    return root


def merge(repo: Path, branch: str) -> None:
    """What merging the pull request does."""
    git(repo, "switch", "--quiet", "main")
    git(repo, "merge", "--quiet", "--ff-only", branch)


def gridctl(*args: str, cwd: Path | None = None, process: bool = False) -> subprocess.CompletedProcess[str]:
    """Run gridctl: in-process through Typer's runner (fast), or as the installed console command."""
    if process:
        return subprocess.run(
            [GRIDCTL, *args], capture_output=True, text=True, cwd=cwd, check=False, timeout=120
        )
    with contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)
