"""Deploy, verify, promote and roll back in a real Git repository, through the gridctl command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gridctl.delivery.image import read_overlay_image
from tests.delivery.gitops import digest, git, gridctl, image, merge


def _overlay_digest(repo: Path, env: str) -> str:
    ref = read_overlay_image(repo / "deploy/k8s/overlays" / env / "kustomization.yaml")
    assert ref is not None
    return ref.digest


def _ledger(repo: Path, env: str) -> list[dict[str, object]]:
    return list(YAML(typ="safe").load((repo / "deploy/promotions" / f"{env}.yaml").read_text())["entries"])


def _ok(*args: str, repo: Path) -> Any:
    result = gridctl(*args, "--json", cwd=repo)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _deploy_and_verify(repo: Path, env: str, seed: str) -> None:
    branch = f"deploy/{env}-{seed}"
    _ok(
        "deploy",
        "--env",
        env,
        "--image",
        image(seed),
        "--source-commit",
        f"{seed:0<40}",
        "--branch",
        branch,
        repo=repo,
    )
    merge(repo, branch)
    _ok("ledger", "verify", "--env", env, "--check", "smoke", "--check", "monitor", repo=repo)


def test_promotion_happy_path_dev_to_staging_to_prod(repo: Path) -> None:
    built = image("build-1")
    deployed = _ok(
        "deploy",
        "--env",
        "dev",
        "--image",
        built,
        "--source-commit",
        "a" * 40,
        "--branch",
        "deploy/dev-aaaa",
        repo=repo,
    )
    assert deployed["branch"] == "deploy/dev-aaaa"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "deploy/k8s/overlays/dev/kustomization.yaml",
        "deploy/promotions/dev.yaml",
    ]
    merge(repo, "deploy/dev-aaaa")
    _ok("ledger", "verify", "--env", "dev", "--check", "smoke", "--check", "monitor", repo=repo)

    promoted = _ok("promote", "--from", "dev", "--to", "staging", repo=repo)
    short = digest("build-1").removeprefix("sha256:")[:12]
    assert promoted["branch"] == f"deploy/staging-{short}"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == f"deploy/staging-{short}"
    assert git(repo, "show", "--name-only", "--format=", "HEAD").splitlines() == [
        "deploy/k8s/overlays/staging/kustomization.yaml",
        "deploy/promotions/staging.yaml",
    ]
    assert _overlay_digest(repo, "staging") == digest("build-1")
    # The digest travels; each environment keeps pulling from its own registry (ADR 0024).
    assert promoted["image"] == f"gridosstaging.azurecr.io/gridos@{digest('build-1')}"
    assert promoted["source_image"] == built
    staging = _ledger(repo, "staging")[-1]
    assert staging["promoted_from"] == "dev" and staging["source_commit"] == "a" * 40
    assert staging["verified_at"] is None, "a promoted image must be verified again in its new environment"
    merge(repo, f"deploy/staging-{short}")

    refused = gridctl("promote", "--from", "staging", "--to", "prod", cwd=repo)
    assert refused.returncode == 1
    assert "was never verified there" in refused.stderr

    _ok("ledger", "verify", "--env", "staging", "--check", "smoke", "--check", "monitor", repo=repo)
    _ok("promote", "--from", "staging", "--to", "prod", "--branch", "deploy/prod-1", repo=repo)
    assert _overlay_digest(repo, "prod") == digest("build-1")
    merge(repo, "deploy/prod-1")

    shown = _ok("ledger", "show", repo=repo)
    assert {env: item["in_sync"] for env, item in shown.items()} == {
        "dev": True,
        "staging": True,
        "prod": True,
    }
    assert shown["prod"]["current"]["image"] == f"gridosprod.azurecr.io/gridos@{digest('build-1')}"
    assert shown["prod"]["current"]["promoted_from"] == "staging"


def test_promotion_of_an_unverified_digest_is_refused_and_changes_nothing(repo: Path) -> None:
    _deploy_and_verify(repo, "dev", "old")
    branch = "deploy/dev-new"
    _ok(
        "deploy",
        "--env",
        "dev",
        "--image",
        image("new"),
        "--source-commit",
        "b" * 40,
        "--branch",
        branch,
        repo=repo,
    )
    merge(repo, branch)
    head, before = git(repo, "rev-parse", "HEAD"), git(repo, "branch", "--list")

    result = gridctl("promote", "--from", "dev", "--to", "staging", cwd=repo)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"gridctl promote: refusing to promote {digest('new')} to staging")
    assert "never verified" in result.stderr

    never = gridctl("promote", "--from", "dev", "--to", "staging", "--digest", digest("elsewhere"), cwd=repo)
    assert never.returncode == 1 and "never deployed to dev" in never.stderr

    skip = gridctl("promote", "--from", "dev", "--to", "prod", cwd=repo)
    assert skip.returncode == 1
    assert skip.stderr.strip() == "gridctl promote: prod is promoted from staging only, not from 'dev'"

    assert git(repo, "rev-parse", "HEAD") == head
    assert git(repo, "branch", "--list") == before
    assert git(repo, "status", "--porcelain") == ""

    # The older, verified digest can still be promoted explicitly.
    flags = ("--digest", digest("old"), "--registry", "mirror.example.org:5000/grid/gridos", "--no-commit")
    explicit = _ok("promote", "--from", "dev", "--to", "staging", *flags, repo=repo)
    assert explicit["image"] == f"mirror.example.org:5000/grid/gridos@{digest('old')}"
    assert _overlay_digest(repo, "staging") == digest("old")


def test_an_image_that_failed_its_checks_is_not_promotable(repo: Path) -> None:
    _deploy_and_verify(repo, "dev", "one")
    _deploy_and_verify(repo, "dev", "two")
    rolled = _ok("rollback", "--env", "dev", repo=repo)
    assert rolled["digest"] == digest("one")
    result = gridctl("promote", "--from", "dev", "--to", "staging", "--digest", digest("two"), cwd=repo)
    assert result.returncode == 1 and "failed its checks at" in result.stderr


def test_rollback_restores_the_previous_verified_digest_as_a_commit(repo: Path) -> None:
    _deploy_and_verify(repo, "prod", "good")
    _deploy_and_verify(repo, "prod", "also-good")
    bad = "deploy/prod-bad"
    _ok(
        "deploy",
        "--env",
        "prod",
        "--image",
        image("bad"),
        "--source-commit",
        "c" * 40,
        "--branch",
        bad,
        repo=repo,
    )
    merge(repo, bad)
    overlay = repo / "deploy/k8s/overlays/prod/kustomization.yaml"
    before = overlay.read_text()

    result = gridctl("rollback", "--env", "prod", "--branch", "rollback/prod-1", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert "kubectl argo rollouts undo gridos -n gridos" in result.stdout
    assert _overlay_digest(repo, "prod") == digest("also-good")
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "rollback/prod-1"
    assert git(repo, "status", "--porcelain") == ""
    assert "rollback(prod)" in git(repo, "log", "-1", "--format=%s")
    # Only the digest line of the overlay changed: comments and layout survive.
    diff = [
        line
        for line in git(
            repo, "diff", "HEAD~1", "--", "deploy/k8s/overlays/prod/kustomization.yaml"
        ).splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    assert len(diff) == 2 and all("digest:" in line and "# placeholder" in line for line in diff), diff
    assert before.replace(digest("bad"), digest("also-good")) == overlay.read_text()

    entries = _ledger(repo, "prod")
    assert entries[-2]["digest"] == digest("bad") and entries[-2]["failed_at"]
    assert entries[-1]["action"] == "rollback" and entries[-1]["rolled_back_from"] == digest("bad")

    # A second rollback goes one further back, past the image that was just restored.
    merge(repo, "rollback/prod-1")
    again = _ok("rollback", "--env", "prod", "--namespace", "grid", "--rollout", "gridos-api", repo=repo)
    assert again["digest"] == digest("good")
    assert "kubectl argo rollouts undo gridos-api -n grid" in again["notes"][0]


def test_rollback_without_a_verified_predecessor_is_refused(repo: Path) -> None:
    _ok("deploy", "--env", "prod", "--image", image("only"), "--source-commit", "d" * 40, repo=repo)
    result = gridctl("rollback", "--env", "prod", cwd=repo)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"gridctl rollback: no verified image to roll prod back to: the ledger has none besides {digest('only')}"
    )
    empty = gridctl("rollback", "--env", "staging", cwd=repo)
    assert empty.returncode == 1 and "nothing was ever deployed to staging" in empty.stderr


def test_uncommitted_changes_block_a_commit_and_drift_is_shown(repo: Path) -> None:
    overlay = repo / "deploy/k8s/overlays/dev/kustomization.yaml"
    overlay.write_text(overlay.read_text() + "# local edit\n")
    result = gridctl("deploy", "--env", "dev", "--image", image("x"), "--source-commit", "e" * 40, cwd=repo)
    assert result.returncode == 1
    assert "uncommitted changes in deploy/k8s/overlays/dev/kustomization.yaml" in result.stderr
    git(repo, "checkout", "--", str(overlay))

    _ok("deploy", "--env", "dev", "--image", image("x"), "--source-commit", "e" * 40, repo=repo)
    _ok("image", "set", "--env", "dev", "--image", image("hand-edit"), repo=repo)
    shown = _ok("ledger", "show", "--env", "dev", repo=repo)
    assert shown["dev"]["in_sync"] is False
    text = gridctl("ledger", "show", "--env", "dev", cwd=repo)
    assert f"DRIFT: overlay has {image('hand-edit')}" in text.stdout


def test_not_a_git_repository(tmp_path: Path) -> None:
    result = gridctl("rollback", "--env", "dev", "--repo", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip() == f"gridctl rollback: {tmp_path}: not a git repository"


def test_promote_defaults_to_the_previous_stage_and_strict_show_catches_drift(repo: Path) -> None:
    _deploy_and_verify(repo, "dev", "seed")
    result = _ok("promote", "--to", "staging", "--no-commit", repo=repo)
    assert result["source_environment"] == "dev" and result["commit"] is None
    assert git(repo, "status", "--porcelain", "--untracked-files=all").split() == [
        "M",
        "deploy/k8s/overlays/staging/kustomization.yaml",
        "??",
        "deploy/promotions/staging.yaml",
    ]
    # Empty ledgers (prod) never count as drift; a ledger that disagrees with its overlay does.
    assert gridctl("ledger", "show", "--strict", cwd=repo).returncode == 0
    _ok("image", "set", "--env", "dev", "--image", image("hotfix"), repo=repo)
    drift = gridctl("ledger", "show", "--strict", cwd=repo)
    assert drift.returncode == 1
    assert drift.stderr.strip() == "gridctl ledger show: overlay and ledger disagree for dev"
