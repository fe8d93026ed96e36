"""Fixtures for the delivery manifests: a real GridOS to check metrics and probes against, and throw-away
copies of deploy/ (tests.support.manifests.Repo) in which tests plant one mistake each."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.manifests import Repo
from tests.support.servers import GridosServer, start_gridos


@pytest.fixture(scope="session")
def gridos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GridosServer]:
    server = start_gridos(
        tmp_path_factory.mktemp("gridos-reference"), env={"GRIDOS_LOG_LEVEL": "WARNING"}, start=False
    )
    with server.start(timeout=180):  # generous: the suite shares a small CI machine with other suites
        yield server


@pytest.fixture
def repo(tmp_path: Path, gridos: GridosServer) -> Repo:
    return Repo.copy(tmp_path, gridos.url)
