"""The few Git operations the delivery commands need, through the `git` command line."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from gridctl.delivery.errors import DeliveryError

# Used only when the repository has no identity configured (a bare CI checkout); a workflow normally sets
# its own bot identity first.
_FALLBACK_IDENTITY = ("gridctl", "gridctl@users.noreply.github.com")


@dataclass
class GitRepository:
    root: Path

    @classmethod
    def at(cls, path: Path) -> GitRepository:
        try:
            out = subprocess.run(
                ["git", "-C", str(path), "rev-parse", "--show-toplevel"],
                capture_output=True,
                text=True,
                check=False,
            )
        except FileNotFoundError:
            raise DeliveryError("git is not installed") from None
        if out.returncode != 0:
            raise DeliveryError(f"{path}: not a git repository")
        return cls(Path(out.stdout.strip()))

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            ["git", "-C", str(self.root), *args], capture_output=True, text=True, check=False
        )
        if proc.returncode != 0:
            detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
            command = next((a for a in args if not a.startswith("-") and "=" not in a), "")
            raise DeliveryError(
                f"git {command} failed: {detail[-1] if detail else f'exit {proc.returncode}'}"
            )
        return proc.stdout

    def head(self) -> str:
        return self.run("rev-parse", "HEAD").strip()

    def branch_exists(self, branch: str) -> bool:
        proc = subprocess.run(
            ["git", "-C", str(self.root), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
            capture_output=True,
            check=False,
        )
        return proc.returncode == 0

    def require_clean(self, paths: list[Path]) -> None:
        """Refuse to start if the files we are about to rewrite carry uncommitted changes."""
        rel = [str(p.relative_to(self.root)) for p in paths if p.exists()]
        if rel and self.run("status", "--porcelain", "--", *rel).strip():
            raise DeliveryError(f"uncommitted changes in {', '.join(rel)}; commit or discard them first")

    def switch_new_branch(self, branch: str) -> None:
        if self.branch_exists(branch):
            raise DeliveryError(f"branch {branch} already exists")
        self.run("check-ref-format", "--branch", branch)
        self.run("switch", "--quiet", "-c", branch)

    def commit(self, paths: list[Path], message: str) -> str:
        rel = [str(p.relative_to(self.root)) for p in paths]
        self.run("add", "--", *rel)
        identity: list[str] = []
        if not self._configured("user.email"):
            identity = [
                "-c",
                f"user.name={_FALLBACK_IDENTITY[0]}",
                "-c",
                f"user.email={_FALLBACK_IDENTITY[1]}",
            ]
        self.run(*identity, "commit", "--quiet", "-m", message, "--", *rel)
        return self.head()

    def _configured(self, key: str) -> bool:
        proc = subprocess.run(
            ["git", "-C", str(self.root), "config", "--get", key], capture_output=True, check=False
        )
        return proc.returncode == 0
