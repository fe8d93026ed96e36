"""Runtime vs tooling dependencies: what the image and `make demo` install (`uv sync --no-dev`, no extras)
runs `gridos` and `gridctl --help`; gridctl's checks say which extra they need."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.support.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]
TOOLING_MODULES = ("hcl2", "kubernetes_validate", "regopy", "jsonschema", "yaml")

# Imports the CLIs with every tooling module made unimportable, as in an environment without them.
BLOCKED_IMPORTS = f"""
import importlib.abc, sys
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {TOOLING_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, Block())
for name in list(sys.modules):
    if name.split(".")[0] in {TOOLING_MODULES!r}:
        del sys.modules[name]
from typer.testing import CliRunner
from gridctl.cli import app as gridctl
from gridos.cli import app as gridos
runner = CliRunner()
for app, args in ((gridctl, ["--help"]), (gridctl, ["infra", "--help"]), (gridctl, ["validate", "--help"]),
                  (gridctl, ["ledger", "--help"]), (gridos, ["--help"])):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (args, result.output, result.exception)
result = runner.invoke(gridctl, ["validate", "--root", {str(ROOT)!r}])
print(result.exit_code, result.output)
"""


def test_the_clis_import_without_the_tooling_modules() -> None:
    r = subprocess.run([sys.executable, "-c", BLOCKED_IMPORTS], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    code, _, message = r.stdout.partition(" ")
    assert code == "2"
    assert "gridctl validate: needs" in message and "uv sync --extra tooling" in message


def test_tooling_is_an_extra_and_every_imported_tool_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"]).lower()
    tooling = " ".join(project["optional-dependencies"]["tooling"]).lower()
    for distribution in ("python-hcl2", "kubernetes-validate", "regopy", "jsonschema", "pyyaml"):
        assert distribution in tooling and distribution not in runtime


def test_make_demo_installs_only_the_runtime_and_takes_a_port() -> None:
    r = subprocess.run(
        # --no-print-directory: under `make test` this runs as a sub-make, which would add "Leaving directory".
        ["make", "--no-print-directory", "-n", "demo", "PORT=18123"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    command = r.stdout.strip().splitlines()[-1]
    assert "--no-dev" in command and command.endswith("gridos demo --port 18123")
    assert "sync --frozen" not in r.stdout  # not the full dev environment first


@pytest.mark.slow
def test_a_runtime_only_environment_runs_both_clis(tmp_path: Path) -> None:
    """`uv sync --no-dev` (what the image and `make demo` install) into a fresh environment, offline from
    uv's cache (filled by `make venv`): seconds, as packages are linked from the cache."""
    uv = [shutil.which("uv")] if shutil.which("uv") else [sys.executable, "-m", "uv"]
    if subprocess.run([*uv, "--version"], capture_output=True).returncode != 0:
        pytest.skip("uv is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    env["UV_PROJECT_ENVIRONMENT"] = str(tmp_path / "runtime")
    sync = subprocess.run(
        [*uv, "sync", "--frozen", "--no-dev", "--offline", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert sync.returncode == 0, sync.stderr
    bin_dir = tmp_path / "runtime" / "bin"
    python = bin_dir / "python"
    absent = subprocess.run(
        [
            python,
            "-c",
            f"import importlib.util as u; print([m for m in {TOOLING_MODULES[:4]!r} if u.find_spec(m)])",
        ],
        capture_output=True,
        text=True,
    )
    assert absent.stdout.strip() == "[]", "the runtime environment should not contain the tooling"
    for command in (["gridctl", "--help"], ["gridos", "--help"], ["gridos", "--version"]):
        r = subprocess.run([bin_dir / command[0], *command[1:]], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, (command, r.stderr[-2000:])
    r = subprocess.run(
        [bin_dir / "gridctl", "infra", "check", "--root", str(ROOT / "infra/terraform")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2 and "needs python-hcl2" in r.stderr
    # c104 (GPL-3.0) is the optional `iec104` extra, not in the runtime: enabling IEC 104 without it stops
    # at start-up with exit 2 and what to install (docs/adr/0055).
    found = subprocess.run(
        [python, "-c", "import importlib.util as u; print(u.find_spec('c104'))"],
        capture_output=True,
        text=True,
    )
    assert found.stdout.strip() == "None"
    serve_env = env | {
        "GRIDOS_IEC104_ENABLED": "true",
        "GRIDOS_IEC104_POINT_MAP": str(ROOT / "src/gridos/ingest/examples/iec104.yaml"),
        "GRIDOS_DATA_DIR": str(tmp_path / "data"),
    }
    r = subprocess.run(
        [bin_dir / "gridos", "serve", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=120,
        env=serve_env,
    )
    assert r.returncode == 2, r.stderr[-2000:]
    assert "optional 'iec104' extra" in r.stderr and "gridos[iec104]" in r.stderr
