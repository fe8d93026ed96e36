"""Fixtures for the delivery manifests: a real GridOS to check metrics and probes against, and throw-away
copies of deploy/ in which tests plant one mistake each."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gridctl.manifests.findings import Finding
from gridctl.manifests.validate import ValidationOptions, ValidationReport, validate
from tests.support.servers import GridosServer, start_gridos

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_PARTS = ("k8s", "schemas", "policies", "argocd")


@pytest.fixture(scope="session")
def gridos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    server = start_gridos(
        tmp_path_factory.mktemp("gridos-reference"), env={"GRIDOS_LOG_LEVEL": "WARNING"}, start=False
    )
    with server.start(timeout=180):  # generous: the suite shares a small CI machine with other suites
        yield server


class Repo:
    """A copy of deploy/ to break on purpose."""

    def __init__(self, root: Path, gridos_url: str) -> None:
        self.root = root
        self.gridos_url = gridos_url

    def plant(self, path: str, old: str, new: str, count: int = 1) -> None:
        file = self.root / path
        text = file.read_text()
        assert text.count(old) >= count, f"{old!r} not in {path}: the planted mistake would be a no-op"
        file.write_text(text.replace(old, new, count))

    def validate(self, *targets: str, skip: tuple[str, ...] = ("checkov", "policies")) -> ValidationReport:
        return validate(
            ValidationOptions(self.root, gridos_url=self.gridos_url, skip=frozenset(skip), targets=targets)
        )

    def findings(self, *targets: str, check: str | None = None, **kwargs: tuple[str, ...]) -> list[Finding]:
        found = self.validate(*targets, **kwargs).findings
        return [f for f in found if check is None or f.check == check]


@pytest.fixture
def repo(tmp_path: Path, gridos: GridosServer) -> Repo:
    for part in DEPLOY_PARTS:
        src = ROOT / "deploy" / part
        if src.is_dir():
            shutil.copytree(src, tmp_path / "deploy" / part)
    return Repo(tmp_path, gridos.url)


RepoFactory = Callable[[], Repo]
