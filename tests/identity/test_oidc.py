"""Sign-in with a real OpenID Provider (npm oidc-provider): Authorization Code + PKCE, server-side
sessions, role mapping from claims, sign-out, CSRF, and bearer JWTs refused for every listed reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi.testclient import TestClient

from tests.conftest import Tokens
from tests.support.oidc import (
    FEDERATED_CLIENT,
    OidcProvider,
    csrf,
    new_signing_key,
    running_oidc_provider,
    sign_in,
)

DEVICE = {"type": "meter", "site": "north", "expected_interval_s": 5}
# Backend-independent logic (clocks, provider keys): once is enough.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def audit(app: TestClient, tokens: Tokens, **params: str) -> list[dict[str, object]]:
    r = app.get("/api/v1/audit", params=params, headers=tokens.header("admin"))
    assert r.status_code == 200, r.text
    items: list[dict[str, object]] = r.json()["items"]
    return items


def test_sign_in_gives_a_server_side_session_with_csrf_token(
    app: TestClient, oidc: OidcProvider, tokens: Tokens
) -> None:
    done = sign_in(app, oidc, "ada", next="/#alarms")
    assert done.status_code == 302 and done.headers["location"] == "/#alarms"
    cookie = done.headers["set-cookie"]
    assert "gridos_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    me = app.get("/api/v1/me")
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    body = me.json()
    assert body == {
        "subject": "ada",
        "name": "ada@grid.example",
        "role": "operator",
        "auth": "session",
        "csrf_token": body["csrf_token"],
    }
    assert len(body["csrf_token"]) >= 32
    # Reads work with the cookie alone; the session is in the database, the cookie only names it.
    assert app.get("/api/v1/alarms").status_code == 200
    signins = audit(app, tokens, action="auth.signin")
    assert [(e["subject"], e["role"], e["outcome"], e["auth"]) for e in signins] == [
        ("ada", "operator", "ok", "session")
    ]
    assert signins[0]["client"] == "testclient"


def test_next_never_leaves_the_site(app: TestClient, oidc: OidcProvider) -> None:
    done = sign_in(app, oidc, "vic", next="//evil.example/phish")
    assert done.headers["location"] == "/"


def test_roles_come_from_the_mapped_claim(app: TestClient, oidc: OidcProvider) -> None:
    for n, (account, role) in enumerate(
        [("vic", "viewer"), ("ada", "operator"), ("eve", "engineer"), ("root", "admin")]
    ):
        app.cookies.clear()
        sign_in(app, oidc, account)
        assert app.get("/api/v1/me").json()["role"] == role, account
        # What the role allows, and no more: devices need engineer, API keys need admin.
        headers = csrf(app)
        created = app.put(f"/api/v1/devices/north/m-{n}", json=DEVICE, headers=headers).status_code
        assert created == (201 if role in ("engineer", "admin") else 403), account
        assert app.get("/api/v1/keys").status_code == (200 if role == "admin" else 403), account


def test_a_person_without_a_mapped_role_is_not_signed_in(
    app: TestClient, oidc: OidcProvider, tokens: Tokens
) -> None:
    done = sign_in(app, oidc, "nobody")
    assert done.status_code == 403 and "no GridOS role" in done.text
    assert "gridos_session" not in app.cookies
    assert app.get("/api/v1/me").status_code == 401
    (entry,) = audit(app, tokens, action="auth.signin")
    assert entry["outcome"] == "denied" and entry["subject"] == "nobody"


def test_an_unmapped_claim_value_grants_nothing(
    make_app: Callable[..., TestClient], oidc: OidcProvider
) -> None:
    # With a map that knows only the viewer role, root's Admin claim is worth nothing: viewer it is.
    app = make_app({"GRIDOS_OIDC_ROLE_MAP": "GridOS.Viewer=viewer"})
    sign_in(app, oidc, "root")
    assert app.get("/api/v1/me").json()["role"] == "viewer"


def test_sign_out_ends_the_session_and_the_cookie_is_worthless_after(
    app: TestClient, oidc: OidcProvider
) -> None:
    sign_in(app, oidc, "ada")
    cookie = app.cookies["gridos_session"]
    assert app.post("/auth/logout").status_code == 403  # a write: needs the CSRF header too
    out = app.post("/auth/logout", headers=csrf(app))
    assert out.status_code == 204
    assert out.headers["x-provider-logout"].startswith(f"{oidc.issuer}/session/end")
    # ...and back to this site's root (the console) afterwards.
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2F" in out.headers["x-provider-logout"]
    assert app.get("/api/v1/me").status_code == 401
    app.cookies.set("gridos_session", cookie)  # a copy kept by someone: replayed after sign-out
    assert app.get("/api/v1/me").status_code == 401


def test_cookie_authenticated_write_without_csrf_token_is_refused(
    app: TestClient, oidc: OidcProvider
) -> None:
    sign_in(app, oidc, "eve")
    no_token = app.put("/api/v1/devices/north/m-1", json=DEVICE)
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    assert no_token.headers["content-type"] == "application/problem+json"
    for guess in (b"guess", b"gu\xe9ss"):  # a non-ASCII header is refused too, not a 500
        wrong = app.put("/api/v1/devices/north/m-1", json=DEVICE, headers={"X-CSRF-Token": guess})
        assert wrong.status_code == 403
    assert app.get("/api/v1/devices/north/m-1").status_code == 404  # nothing was written
    assert app.put("/api/v1/devices/north/m-1", json=DEVICE, headers=csrf(app)).status_code == 201


@SQLITE_ONLY
def test_idle_session_expires(make_app: Callable[..., TestClient], oidc: OidcProvider) -> None:
    app = make_app({"GRIDOS_SESSION_IDLE_SECONDS": "1"})
    sign_in(app, oidc, "ada")
    for _ in range(3):  # activity keeps it alive past the idle limit ...
        time.sleep(0.4)
        assert app.get("/api/v1/me").status_code == 200
    time.sleep(1.2)  # ... inactivity does not
    assert app.get("/api/v1/me").status_code == 401


@SQLITE_ONLY
def test_absolute_session_lifetime(make_app: Callable[..., TestClient], oidc: OidcProvider) -> None:
    app = make_app({"GRIDOS_SESSION_ABSOLUTE_SECONDS": "1.5"})
    sign_in(app, oidc, "ada")
    deadline = time.monotonic() + 5
    while app.get("/api/v1/me").status_code == 200:  # active all along, and still signed out
        assert time.monotonic() < deadline, "the session outlived its absolute lifetime"
        time.sleep(0.2)


def test_callback_without_the_browser_that_started_it_is_refused(
    app: TestClient, oidc: OidcProvider, tokens: Tokens
) -> None:
    start = app.get("/auth/login", follow_redirects=False)
    back = oidc.browser_flow(start.headers["location"], "ada", "http://testserver/auth/callback")
    app.cookies.clear()  # a different browser (login CSRF): no gridos_login cookie
    r = app.get(back, follow_redirects=False)
    assert r.status_code == 400 and "state mismatch" in r.text
    assert app.get("/api/v1/me").status_code == 401
    assert audit(app, tokens, action="auth.signin")[0]["outcome"] == "denied"


def test_login_cookie_is_secure_by_default(make_app: Callable[..., TestClient]) -> None:
    app = make_app({"GRIDOS_SESSION_COOKIE_SECURE": "true"})
    start = app.get("/auth/login", follow_redirects=False)
    cookie = start.headers["set-cookie"]
    assert (
        "gridos_login=" in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    )
    assert "code_challenge_method=S256" in start.headers["location"]


# -- bearer JWTs ---------------------------------------------------------------------------------------
def test_provider_access_token_as_bearer(app: TestClient, oidc: OidcProvider, tokens: Tokens) -> None:
    eve = {"Authorization": f"Bearer {oidc.access_token('eve')['access_token']}"}
    me = app.get("/api/v1/me", headers=eve).json()
    assert me == {"subject": "eve", "name": "eve", "role": "engineer", "auth": "bearer", "csrf_token": None}
    # No CSRF for bearer tokens: a browser never attaches an Authorization header by itself.
    assert app.put("/api/v1/devices/north/m-2", json=DEVICE, headers=eve).status_code == 201
    ada = {"Authorization": f"Bearer {oidc.access_token('ada')['access_token']}"}
    assert app.put("/api/v1/devices/north/m-3", json=DEVICE, headers=ada).status_code == 403
    writes = audit(app, tokens, action="PUT /api/v1/devices")
    assert [(e["subject"], e["role"], e["auth"], e["outcome"]) for e in writes] == [
        ("ada", "operator", "bearer", "denied"),
        ("eve", "engineer", "bearer", "ok"),
    ]


def test_small_clock_skew_is_tolerated(app: TestClient, oidc: OidcProvider) -> None:
    now = int(time.time())
    token = oidc.mint("ada", exp=now - 20, nbf=now + 20)  # within the 60 s leeway both ways
    assert app.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def _forged(oidc: OidcProvider, case: str) -> str:
    now = int(time.time())
    if case == "expired":
        return oidc.mint(iat=now - 7200, nbf=now - 7200, exp=now - 3600)
    if case == "not_yet_valid":
        return oidc.mint(nbf=now + 3600)
    if case == "wrong_audience":
        return oidc.mint(aud="api://someone-else")
    if case == "id_token_as_access_token":
        return oidc.mint(aud="gridos-console")  # meant for the client, not for the API
    if case == "wrong_issuer":
        return oidc.mint(iss="https://login.evil.example/v2.0")
    if case == "unsigned_alg_none":
        return oidc.mint(alg="none")
    if case == "foreign_key_same_kid":
        foreign, _ = new_signing_key()
        return oidc.mint(key=foreign)
    if case == "foreign_key_unknown_kid":
        foreign, kid = new_signing_key()
        return oidc.mint(key=foreign, kid=kid)
    if case == "hmac_with_public_key":
        public = oidc.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        header = {"kid": oidc.kid, "alg": "HS256", "typ": "JWT"}
        claims = {
            "iss": oidc.issuer,
            "aud": "api://gridos-tests",
            "sub": "root",
            "iat": now,
            "exp": now + 300,
        }
        signing = jwt.api_jws.PyJWS()
        signing._algorithms["HS256"].prepare_key = lambda key: key  # type: ignore[method-assign]
        return signing.encode(
            jwt.api_jwt.json.dumps(claims).encode(), public, algorithm="HS256", headers=header
        )
    if case == "no_expiry":
        return oidc.mint(exp=None)
    if case == "tampered_roles":
        head, _body, sig = oidc.mint("vic").split(".")
        claims = jwt.decode(oidc.mint("root"), options={"verify_signature": False})
        forged = jwt.utils.base64url_encode(jwt.api_jwt.json.dumps(claims).encode()).decode()
        return f"{head}.{forged}.{sig}"
    raise AssertionError(case)


BAD_TOKENS = [
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "id_token_as_access_token",
    "wrong_issuer",
    "unsigned_alg_none",
    "foreign_key_same_kid",
    "foreign_key_unknown_kid",
    "hmac_with_public_key",
    "no_expiry",
    "tampered_roles",
]


def test_bad_tokens_are_refused(
    make_app: Callable[..., TestClient], oidc: OidcProvider, tokens: Tokens
) -> None:
    app = make_app({"GRIDOS_AUTH_MAX_FAILURES": "100"})  # more failures than the default limit allows
    for case in BAD_TOKENS:
        r = app.get("/api/v1/me", headers={"Authorization": f"Bearer {_forged(oidc, case)}"})
        assert r.status_code == 401, (case, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.headers["www-authenticate"] == "Bearer"
    failures = audit(app, tokens, action="auth.failed")
    assert len(failures) == len(BAD_TOKENS)
    assert all(f["outcome"] == "denied" and f["subject"] is None for f in failures)
    # The reason is recorded for whoever investigates (not echoed in full to the caller).
    reasons = " ".join(str(f["detail"]) for f in failures).lower()
    for word in (
        "expired",
        "audience",
        "issuer",
        "algorithm",
        "signature verification failed",
        "not yet valid",
    ):
        assert word in reasons, word


@SQLITE_ONLY
def test_rotated_provider_keys_are_picked_up(
    make_settings,  # type: ignore[no-untyped-def]
    tmp_path,
) -> None:
    from gridos.app import create_app

    with (
        running_oidc_provider(tmp_path, "http://testserver/auth/callback") as idp,
        TestClient(create_app(make_settings(idp.env()))) as app,
    ):
        before = idp.access_token("ada")["access_token"]
        assert app.get("/api/v1/me", headers={"Authorization": f"Bearer {before}"}).status_code == 200
        old = (idp.key, idp.kid)
        idp.restart_with_keys([new_signing_key(), old])  # new key signs, old one still published
        after = idp.access_token("ada")["access_token"]
        assert jwt.get_unverified_header(after)["kid"] != old[1]
        # GridOS cached the old key set: an unknown kid makes it fetch the new one.
        r = app.get("/api/v1/me", headers={"Authorization": f"Bearer {after}"})
        assert r.status_code == 200, r.text
        assert app.get("/api/v1/me", headers={"Authorization": f"Bearer {before}"}).status_code == 200


@SQLITE_ONLY
def test_code_redeemed_with_a_client_assertion_instead_of_a_secret(
    make_app: Callable[..., TestClient], oidc: OidcProvider, tmp_path: Path
) -> None:
    # What AKS workload identity does: the kubelet writes a short-lived signed token to a file, the provider
    # trusts its issuer, and no client secret exists anywhere.
    token_file = tmp_path / "azure-identity-token"
    app = make_app(
        {"GRIDOS_OIDC_CLIENT_ID": FEDERATED_CLIENT, "GRIDOS_OIDC_CLIENT_ASSERTION_FILE": str(token_file)}
    )
    token_file.write_text(oidc.client_assertion(new_signing_key()[0]))  # signed by the wrong issuer
    refused = sign_in(app, oidc, "ada")
    assert refused.status_code == 401 and "token endpoint refused the code" in refused.text
    token_file.write_text(oidc.client_assertion())  # rotated by the platform: read again at each sign-in
    done = sign_in(app, oidc, "ada")
    assert done.status_code == 302, done.text
    assert app.get("/api/v1/me").json()["subject"] == "ada"


@SQLITE_ONLY
def test_provider_error_is_shown_escaped_and_audited(app: TestClient, tokens: Tokens) -> None:
    start = app.get("/auth/login", follow_redirects=False)
    state = start.headers["location"].split("state=")[1].split("&")[0]
    r = app.get(
        "/auth/callback",
        params={"state": state, "error": "access_denied", "error_description": "<script>alert(1)</script>"},
    )
    assert r.status_code == 401 and "<script>" not in r.text and "&lt;script&gt;" in r.text
    (entry,) = audit(app, tokens, action="auth.signin")
    assert entry["outcome"] == "denied" and "access_denied" in str(entry["detail"])
