"""Cold-tier fixtures: the two storage backends (a local directory and Azurite's Blob service)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.azurite import Azurite, available, running_azurite


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    if not available():
        pytest.skip("azurite (npm) or node is not installed")
    with running_azurite() as server:
        yield server


@pytest.fixture(params=["local", "azurite"])
def archive_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """GRIDOS_ARCHIVE_* for one storage backend; a fresh container or directory per test."""
    env = {"GRIDOS_ARCHIVE_CACHE_DIR": str(tmp_path / "cache"), "GRIDOS_ARCHIVE_SCHEDULE": "false"}
    if request.param == "local":
        return env | {"GRIDOS_ARCHIVE_LOCATION": str(tmp_path / "archive")}
    server: Azurite = request.getfixturevalue("azurite")
    container = f"t{uuid.uuid4().hex[:12]}"
    return env | {
        "GRIDOS_ARCHIVE_LOCATION": f"abfs://{container}@gridostest.dfs.core.windows.net/gridos",
        "GRIDOS_ARCHIVE_AZURE_CONNECTION_STRING": server.connection_string,
    }
