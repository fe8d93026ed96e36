"""Deploy, promote, verify and roll back: each changes an overlay and its ledger together, on a branch and in
one commit, so that a pull request (opened by the workflow) is the deployment."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.git import GitRepository
from gridctl.delivery.image import (
    ENVIRONMENTS,
    IMAGE_NAME,
    ImageReference,
    overlay_image_name,
    overlay_path,
    set_overlay_image,
)
from gridctl.delivery.ledger import LedgerEntry, PromotionLedger, ledger_path

# dev -> staging -> prod, never skipping a stage: prod only receives what staging verified (ADR 0011).
PROMOTION_SOURCE = {"staging": "dev", "prod": "staging"}


@dataclass
class ChangeResult:
    """What a delivery command changed; printed as JSON for workflows."""

    action: str
    environment: str
    image: str
    digest: str
    files: list[str]
    branch: str | None = None
    commit: str | None = None
    source_environment: str | None = None
    source_image: str | None = None
    replaced_digest: str | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finish(
    git: GitRepository,
    files: list[Path],
    message: str,
    branch: str | None,
    commit: bool,
    result: ChangeResult,
) -> ChangeResult:
    result.files = [str(p.relative_to(git.root)) for p in files]
    if commit:
        result.commit = git.commit(files, message)
        result.branch = branch or git.run("rev-parse", "--abbrev-ref", "HEAD").strip()
    return result


def _prepare(repo: Path, env: str, branch: str | None, commit: bool) -> tuple[GitRepository, list[Path]]:
    git = GitRepository.at(repo)
    files = [overlay_path(git.root, env), ledger_path(git.root, env)]
    if not files[0].exists():
        raise DeliveryError(f"{files[0].relative_to(git.root)}: no overlay for {env}")
    if commit:
        git.require_clean(files)
        if branch:
            git.switch_new_branch(branch)
    return git, files


def deploy(
    repo: Path,
    env: str,
    image: ImageReference,
    source_commit: str,
    branch: str | None = None,
    commit: bool = True,
    name: str = IMAGE_NAME,
) -> ChangeResult:
    """A freshly built image into an environment (CI's dev deployment): overlay + ledger entry `deploy`."""
    git, files = _prepare(repo, env, branch, commit)
    ledger = PromotionLedger(files[1], env)
    previous = ledger.current
    set_overlay_image(files[0], image, name)
    ledger.append(image, "deploy", source_commit)
    ledger.save()
    result = ChangeResult(
        "deploy", env, str(image), image.digest, [], replaced_digest=previous.digest if previous else None
    )
    message = f"deploy({env}): {image.name}@{image.short} from {source_commit[:12]}"
    return _finish(git, files, message, branch, commit, result)


def promote(
    repo: Path,
    source: str,
    target: str,
    digest: str | None = None,
    branch: str | None = None,
    commit: bool = True,
    name: str = IMAGE_NAME,
    registry: str | None = None,
) -> ChangeResult:
    """Copy the exact image verified in `source` to `target`. Without `digest`, the image `source` runs now;
    either way it must be verified there, or nothing changes."""
    expected = PROMOTION_SOURCE.get(target)
    if target not in ENVIRONMENTS or expected is None:
        raise DeliveryError(
            f"cannot promote to {target!r}: promotions go to staging (from dev) or prod (from staging)"
        )
    if source != expected:
        raise DeliveryError(f"{target} is promoted from {expected} only, not from {source!r}")
    git = GitRepository.at(repo)
    source_ledger = PromotionLedger.open(git.root, source)
    if digest is None:
        running = source_ledger.current
        if running is None:
            raise DeliveryError(f"nothing was ever deployed to {source} (its ledger is empty)")
        entry = running
    else:
        found = source_ledger.latest_for(digest)
        if found is None:
            raise DeliveryError(f"refusing to promote {digest}: it was never deployed to {source}")
        entry = found
    if not entry.verified:
        state = f"failed its checks at {entry.failed_at}" if entry.failed_at else "was never verified there"
        raise DeliveryError(
            f"refusing to promote {entry.digest} to {target}: it runs in {source} but {state} "
            f"(run the smoke and monitor checks in {source} first)"
        )
    source_image = ImageReference.parse(entry.image)
    # Each environment pulls from its own registry (ADR 0024): the digest travels, the repository stays the
    # target's (the workflow copies the manifest with `az acr import`, which keeps the digest).
    target_overlay = overlay_path(git.root, target)
    repository = registry or (overlay_image_name(target_overlay, name) if target_overlay.exists() else None)
    image = ImageReference.parse(f"{repository or source_image.name}@{source_image.digest}")
    branch = (branch or f"deploy/{target}-{image.short}") if commit else None
    git, files = _prepare(git.root, target, branch, commit)
    ledger = PromotionLedger(files[1], target)
    previous = ledger.current
    if previous is not None and previous.digest == image.digest:
        raise DeliveryError(f"{target} already runs {image.digest}")
    set_overlay_image(files[0], image, name)
    ledger.append(image, "promote", entry.source_commit, promoted_from=source)
    ledger.save()
    result = ChangeResult(
        "promote",
        target,
        str(image),
        image.digest,
        [],
        source_environment=source,
        source_image=str(source_image),
        replaced_digest=previous.digest if previous else None,
        notes=[
            f"verified in {source} at {entry.verified_at} by {', '.join(entry.checks) or 'unnamed checks'}"
        ],
    )
    message = f"promote({target}): {image.name}@{image.short} verified in {source}"
    return _finish(git, files, message, branch, commit, result)


def verify(
    repo: Path,
    env: str,
    checks: list[str],
    digest: str | None = None,
    branch: str | None = None,
    commit: bool = True,
) -> ChangeResult:
    """Record that the image running in `env` passed `checks` (after smoke and monitor succeeded)."""
    git = GitRepository.at(repo)
    path = ledger_path(git.root, env)
    if commit:
        git.require_clean([path])
        if branch:
            git.switch_new_branch(branch)
    ledger = PromotionLedger(path, env)
    current = ledger.current
    if current is None:
        raise DeliveryError(f"nothing was ever deployed to {env} (its ledger is empty)")
    entry = ledger.mark_verified(digest or current.digest, checks)
    ledger.save()
    image = ImageReference.parse(entry.image)
    result = ChangeResult(
        "verify", env, entry.image, entry.digest, [], notes=[f"checks: {', '.join(entry.checks)}"]
    )
    return _finish(
        git,
        [path],
        f"verify({env}): {image.name}@{image.short} passed {', '.join(checks)}",
        branch,
        commit,
        result,
    )


def rollback(
    repo: Path,
    env: str,
    branch: str | None = None,
    commit: bool = True,
    name: str = IMAGE_NAME,
    rollout: str = "gridos",
    namespace: str = "gridos",
) -> ChangeResult:
    """Restore the previous verified image of `env` (the declarative rollback: Argo CD syncs the commit) and
    mark the image being replaced as failed."""
    git, files = _prepare(repo, env, branch, commit)
    ledger = PromotionLedger(files[1], env)
    current = ledger.current
    if current is None:
        raise DeliveryError(f"nothing was ever deployed to {env} (its ledger is empty)")
    target: LedgerEntry | None = ledger.previous_verified()
    if target is None:
        raise DeliveryError(
            f"no verified image to roll {env} back to: the ledger has none besides {current.digest}"
        )
    image = ImageReference.parse(target.image)
    ledger.mark_failed()
    set_overlay_image(files[0], image, name)
    ledger.append(
        image,
        "rollback",
        target.source_commit,
        rolled_back_from=current.digest,
        verified_at=target.verified_at,
        checks=target.checks,
    )
    ledger.save()
    result = ChangeResult(
        "rollback",
        env,
        str(image),
        image.digest,
        [],
        replaced_digest=current.digest,
        notes=[
            f"equivalent imperative rollback: kubectl argo rollouts undo {rollout} -n {namespace} "
            "(Argo CD self-heal reverts it unless this commit is merged)"
        ],
    )
    message = f"rollback({env}): {image.name}@{image.short} replaces failed {current.digest.removeprefix('sha256:')[:12]}"
    return _finish(git, files, message, branch, commit, result)
