from __future__ import annotations

from pathlib import Path

import pytest

from tests.delivery.gitops import init_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(tmp_path / "gitops")
