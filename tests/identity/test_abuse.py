"""Abuse: failed authentications limited per client and per key; security headers on every response."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import Tokens

LIMIT = {"GRIDOS_AUTH_MAX_FAILURES": "3", "GRIDOS_AUTH_FAILURE_WINDOW_SECONDS": "60"}
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@SQLITE_ONLY
def test_failed_authentications_are_limited_per_client(
    make_app: Callable[..., TestClient], tokens: Tokens
) -> None:
    guesser = make_app(LIMIT, client=("203.0.113.7", 40000))
    for _ in range(3):
        assert guesser.get("/api/v1/alarms", headers={"Authorization": "Bearer guess"}).status_code == 401
    blocked = guesser.get("/api/v1/alarms", headers={"Authorization": "Bearer guess"})
    assert blocked.status_code == 429 and blocked.headers["content-type"] == "application/problem+json"
    assert 1 <= int(blocked.headers["retry-after"]) <= 60
    # Even a right token waits: a guesser must not learn which of its guesses was right.
    assert guesser.get("/api/v1/alarms", headers=tokens.header("viewer")).status_code == 429
    # Another client is not affected.
    other = TestClient(guesser.app, client=("198.51.100.9", 40000))
    assert other.get("/api/v1/alarms", headers=tokens.header("viewer")).status_code == 200
    failures = other.get("/api/v1/audit", params={"action": "auth.failed"}, headers=tokens.header("admin"))
    assert [e["client"] for e in failures.json()["items"]] == ["203.0.113.7"] * 3


@SQLITE_ONLY
def test_failed_authentications_are_limited_per_key(
    make_app: Callable[..., TestClient], tokens: Tokens
) -> None:
    app = make_app(LIMIT)
    key = app.post(
        "/api/v1/keys", json={"name": "gw", "scopes": ["read"]}, headers=tokens.header("admin")
    ).json()
    wrong = f"gk_{key['prefix']}_not-the-secret"
    # Guesses at one key's secret from many addresses: the key is locked, not only each address.
    for n in range(3):
        c = TestClient(app.app, client=(f"192.0.2.{n}", 40000))
        assert c.get("/api/v1/alarms", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    fresh = TestClient(app.app, client=("192.0.2.99", 40000))
    assert fresh.get("/api/v1/alarms", headers={"Authorization": f"Bearer {key['token']}"}).status_code == 429
    assert fresh.get("/api/v1/alarms", headers=tokens.header("viewer")).status_code == 200


@SQLITE_ONLY
def test_security_headers_on_every_response(make_app: Callable[..., TestClient], tokens: Tokens) -> None:
    app = make_app()
    for path, headers in (
        ("/health/live", {}),
        ("/api/v1/alarms", tokens.header("viewer")),
        ("/api/v1/alarms", {}),  # errors too
        ("/api/v1/no-such-thing", {}),
        ("/openapi.json", {}),
    ):
        r = app.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] == "no-referrer", path
        assert r.headers["x-frame-options"] == "DENY", path
        assert r.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'", path
        assert "strict-transport-security" not in r.headers, path  # plain HTTP: HSTS would be a lie
    page = app.get("/")
    # The operator page keeps the policy it sets itself; nothing may frame it.
    assert (
        "frame-ancestors" not in page.headers["content-security-policy"]
        or "'none'" in page.headers["content-security-policy"]
    )
    assert page.headers["x-frame-options"] == "DENY"
    # /docs (the console's Swagger UI page) also sets its own policy, which forbids framing too.
    docs = app.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]
    assert docs.headers["x-frame-options"] == "DENY"
    tls = TestClient(app.app, base_url="https://testserver")
    assert tls.get("/health/live").headers["strict-transport-security"].startswith("max-age=31536000")


@SQLITE_ONLY
def test_static_tokens_warn_in_production_mode(
    make_app: Callable[..., TestClient], tokens: Tokens, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app({"GRIDOS_AUTH_PRODUCTION": "true"})
    assert "GRIDOS_API_TOKENS is set in production mode" in caplog.text
    caplog.clear()
    for _ in range(3):
        assert app.get("/api/v1/alarms", headers=tokens.header("viewer")).status_code == 200
    warnings = [r for r in caplog.records if "static bootstrap token used in production mode" in r.message]
    assert len(warnings) == 1 and warnings[0].levelname == "WARNING"  # once per role, not per request
    quiet = make_app({"GRIDOS_AUTH_PRODUCTION": "false"})
    caplog.clear()
    assert quiet.get("/api/v1/alarms", headers=tokens.header("viewer")).status_code == 200
    assert "production mode" not in caplog.text
