"""Identity fixtures: a real OpenID Provider (npm oidc-provider) and GridOS configured to trust it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from gridos.app import create_app
from tests.conftest import Tokens
from tests.support.oidc import CALLBACK, OidcProvider, running_oidc_provider


@pytest.fixture(scope="session")
def oidc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcProvider]:
    with running_oidc_provider(tmp_path_factory.mktemp("oidc"), CALLBACK) as provider:
        yield provider


@pytest.fixture
def make_app(make_settings, oidc: OidcProvider):  # type: ignore[no-untyped-def]
    """GridOS trusting the provider; `env` adds or overrides GRIDOS_* identity settings."""
    clients: list[TestClient] = []

    def factory(env: dict[str, str] | None = None, **kwargs: object) -> TestClient:
        client = TestClient(create_app(make_settings(oidc.env() | (env or {}))), **kwargs)  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def app(make_app: Callable[..., TestClient]) -> TestClient:
    return make_app()


@pytest.fixture
def admin(tokens: Tokens) -> dict[str, str]:
    return tokens.header("admin")
