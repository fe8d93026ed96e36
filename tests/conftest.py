"""Shared fixtures: the two database backends every API test runs against, and the app under test.

`backend` is parametrised over SQLite and a real PostgreSQL server that the harness starts itself
(once per session); each test gets a fresh database cloned from a migrated template.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from gridos.app import create_app
from gridos.config import Settings
from gridos.db.migrate import upgrade
from tests.support.postgres import PostgresServer, running_postgres
from tests.support.settings import settings_values
from tests.support.tokens import Tokens


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        template = server.create_database()
        engine = create_engine(server.url(template))
        upgrade(engine)
        engine.dispose()
        server.template = template  # type: ignore[attr-defined]
        yield server


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _database(request: pytest.FixtureRequest, tmp_path: Path, migrated: bool) -> Iterator[str]:
    if request.param == "sqlite":  # a new file; the app migrates SQLite at start-up
        yield f"sqlite:///{tmp_path / 'gridos.db'}"
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    name = server.create_database(template=server.template if migrated else None)  # type: ignore[attr-defined]
    yield server.url(name)
    server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from _database(request, tmp_path, migrated=True)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, not the migrated template: for tests that migrate it themselves."""
    yield from _database(request, tmp_path, migrated=False)


@pytest.fixture
def tokens() -> Tokens:
    return Tokens(*(secrets.token_urlsafe(12) for _ in range(4)))


@pytest.fixture
def make_settings(database_url: str, tokens: Tokens):  # type: ignore[no-untyped-def]
    """Settings for the parametrised backend. `env` takes GRIDOS_* names (as a subprocess would get them);
    keyword overrides take field names, a section's as a dict (`alarms={"enabled": False}`)."""

    def factory(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "database_url": database_url,
            "api_tokens": (
                f"admin:{tokens.admin},operator:{tokens.operator},viewer:{tokens.viewer},ingest:{tokens.ingest}"
            ),
            "auto_migrate": True,
            "log_json": False,
        }
        values.update(settings_values(env or {}))
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return factory


@pytest.fixture
def client(make_settings, tokens: Tokens) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    """The app on the parametrised backend, authenticated as admin by default."""
    app = create_app(make_settings())
    with TestClient(app, headers=tokens.header("admin")) as c:
        yield c
