"""A real OpenID Provider for tests: `node tests/support/oidc_provider.mjs` (npm oidc-provider) on a free
port of 127.0.0.1, with signing keys generated here so tests can also mint tokens the provider would
sign (expired, wrong audience...) and tokens it would not (a foreign key)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from tests.support.postgres import free_port
from tests.support.process import http_ok, stop, wait_ready

REPO = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
RESOURCE = "api://gridos-tests"
GRIDOS_CLIENT = "gridos-console"
FEDERATED_CLIENT = (
    "gridos-federated"  # authenticates with a signed client assertion, like AKS workload identity
)
TEST_CLIENT = "test-cli"  # a second public client the tests use to get access tokens as a person would
TEST_REDIRECT = "http://127.0.0.1/test-callback"
CALLBACK = "http://testserver/auth/callback"  # GridOS under Starlette's TestClient

# People and the roles (Entra-style app roles) their tokens carry.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "ada": {"name": "Ada Operator", "preferred_username": "ada@grid.example", "roles": ["GridOS.Operator"]},
    "eve": {"name": "Eve Engineer", "preferred_username": "eve@grid.example", "roles": ["GridOS.Engineer"]},
    "vic": {"name": "Vic Viewer", "preferred_username": "vic@grid.example", "roles": ["GridOS.Viewer"]},
    "root": {
        "name": "Root Admin",
        "preferred_username": "root@grid.example",
        "roles": ["GridOS.Viewer", "GridOS.Admin"],
    },
    "nobody": {"name": "No Role", "preferred_username": "nobody@grid.example", "roles": ["Other.App"]},
}
ROLE_MAP = "GridOS.Viewer=viewer,GridOS.Operator=operator,GridOS.Engineer=engineer,GridOS.Admin=admin"


def new_signing_key() -> tuple[rsa.RSAPrivateKey, str]:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048), secrets.token_hex(8)


def private_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key, as_dict=True)
    return jwk | {"kid": kid, "use": "sig", "alg": "RS256"}


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return jwk | {"kid": kid, "use": "sig", "alg": "RS256"}


@dataclass
class OidcProvider:
    issuer: str
    port: int
    key: rsa.RSAPrivateKey
    kid: str
    gridos_redirect: str
    log_path: Path
    extra_keys: list[tuple[rsa.RSAPrivateKey, str]] = field(default_factory=list)
    # The key behind FEDERATED_CLIENT's assertions (the role the cluster's service-account issuer plays).
    assertion_key: rsa.RSAPrivateKey = field(default_factory=lambda: new_signing_key()[0])
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def config(self) -> dict[str, Any]:
        keys = [private_jwk(self.key, self.kid)] + [private_jwk(k, kid) for k, kid in self.extra_keys]
        return {
            "port": self.port,
            "issuer": self.issuer,
            "resource": RESOURCE,
            "jwks": {"keys": keys},
            "accounts": ACCOUNTS,
            "clients": [
                {
                    "client_id": GRIDOS_CLIENT,
                    "token_endpoint_auth_method": "none",
                    "redirect_uris": [self.gridos_redirect],
                    "post_logout_redirect_uris": [self.gridos_redirect.replace("/auth/callback", "/")],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                },
                {
                    "client_id": FEDERATED_CLIENT,
                    "token_endpoint_auth_method": "private_key_jwt",
                    "token_endpoint_auth_signing_alg": "RS256",
                    "jwks": {"keys": [public_jwk(self.assertion_key, "assertion")]},
                    "redirect_uris": [self.gridos_redirect],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                },
                {
                    "client_id": TEST_CLIENT,
                    "token_endpoint_auth_method": "none",
                    "redirect_uris": [TEST_REDIRECT],
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                },
            ],
        }

    def start(self, timeout: float = 20.0) -> OidcProvider:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node is not installed (make system-deps)")
        # The repository's node_modules (npm ci from package-lock.json, `make system-deps`); another install
        # of the same lock can be named with GRIDOS_TEST_NODE_MODULES.
        modules = Path(os.environ.get("GRIDOS_TEST_NODE_MODULES", REPO / "node_modules"))
        package = modules / "oidc-provider"
        if not (package / "package.json").is_file():
            raise RuntimeError(f"{package} is missing: run `make system-deps` (npm ci)")
        entry = package / json.loads((package / "package.json").read_text()).get("main", "lib/index.js")
        env = os.environ | {
            "OIDC_TEST_CONFIG": json.dumps(self.config()),
            "OIDC_PROVIDER_MODULE": entry.resolve().as_uri(),
            "NODE_ENV": "test",
        }
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [node, str(SCRIPT)], env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
        ready = http_ok(f"{self.issuer}/.well-known/openid-configuration")
        wait_ready(self.proc, ready, "oidc-provider", self.log_path, timeout, interval=0.05)
        return self

    def stop(self) -> None:
        if self.proc:
            stop(self.proc)

    def restart_with_keys(self, keys: list[tuple[rsa.RSAPrivateKey, str]]) -> None:
        """Rotate the provider's signing keys: the first one signs from now on."""
        self.stop()
        (self.key, self.kid), self.extra_keys = keys[0], keys[1:]
        self.start()

    def env(self) -> dict[str, str]:
        return {
            "GRIDOS_OIDC_ISSUER": self.issuer,
            "GRIDOS_OIDC_CLIENT_ID": GRIDOS_CLIENT,
            "GRIDOS_OIDC_AUDIENCE": RESOURCE,
            "GRIDOS_OIDC_RESOURCE": RESOURCE,
            "GRIDOS_OIDC_ROLE_MAP": ROLE_MAP,
            "GRIDOS_SESSION_COOKIE_SECURE": "false",  # the test client speaks plain HTTP
        }

    # -- tokens ----------------------------------------------------------------------------------
    def mint(
        self,
        sub: str = "ada",
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        alg: str = "RS256",
        **overrides: Any,
    ) -> str:
        """A JWT access token as the provider shapes them, signed with its key unless told otherwise;
        `overrides` change or (with None) remove claims."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": RESOURCE,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "jti": secrets.token_hex(8),
            "scope": "api",
            "client_id": TEST_CLIENT,
            "roles": ACCOUNTS.get(sub, {}).get("roles", []),
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        headers = {"kid": kid or self.kid, "typ": "at+jwt"}
        if alg == "none":
            return jwt.encode(claims, None, algorithm="none", headers=headers)
        return jwt.encode(claims, key or self.key, algorithm=alg, headers=headers)

    def client_assertion(self, key: rsa.RSAPrivateKey | None = None) -> str:
        """A client assertion (RFC 7523) for FEDERATED_CLIENT, as a projected service-account token."""
        now = int(time.time())
        claims = {
            "iss": FEDERATED_CLIENT,
            "sub": FEDERATED_CLIENT,
            "aud": self.issuer,
            "jti": secrets.token_hex(8),
            "iat": now,
            "exp": now + 300,
        }
        return jwt.encode(claims, key or self.assertion_key, algorithm="RS256", headers={"kid": "assertion"})

    def browser_flow(self, start_url: str, account: str, stop_prefix: str) -> str:
        """Follow an authorization request as a browser would, signing in as `account` on the provider's
        login form; returns the URL the provider finally sends the browser to (starting with stop_prefix)."""
        with httpx.Client(timeout=10) as browser:
            url = start_url
            for _ in range(10):
                r = browser.get(url)
                if r.status_code in (302, 303):
                    url = urljoin(url, r.headers["location"])
                    if url.startswith(stop_prefix):
                        return url
                    continue
                form = re.search(r'<form[^>]*action="([^"]+)"', r.text)
                if r.status_code != 200 or form is None or 'name="login"' not in r.text:
                    raise AssertionError(f"unexpected provider page {r.status_code}: {r.text[:500]}")
                post = browser.post(
                    urljoin(url, form.group(1)), data={"prompt": "login", "login": account, "password": "x"}
                )
                assert post.status_code in (302, 303), post.text[:500]
                url = urljoin(url, post.headers["location"])
                if url.startswith(stop_prefix):
                    return url
        raise AssertionError("the provider never redirected back")

    def access_token(self, account: str) -> dict[str, Any]:
        """Authorization Code + PKCE with the test client: the provider's real tokens for this person."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(16)
        meta = httpx.get(f"{self.issuer}/.well-known/openid-configuration").json()
        query = httpx.QueryParams(
            {
                "response_type": "code",
                "client_id": TEST_CLIENT,
                "redirect_uri": TEST_REDIRECT,
                "scope": "openid profile",
                "state": state,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
                "resource": RESOURCE,
            }
        )
        back = self.browser_flow(f"{meta['authorization_endpoint']}?{query}", account, TEST_REDIRECT)
        params = parse_qs(urlparse(back).query)
        assert params.get("state") == [state], back
        r = httpx.post(
            meta["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": params["code"][0],
                "redirect_uri": TEST_REDIRECT,
                "client_id": TEST_CLIENT,
                "code_verifier": verifier,
                "resource": RESOURCE,
            },
        )
        assert r.status_code == 200, r.text
        tokens: dict[str, Any] = r.json()
        return tokens


@contextmanager
def running_oidc_provider(tmp_path: Path, gridos_redirect: str) -> Iterator[OidcProvider]:
    port = free_port()
    key, kid = new_signing_key()
    provider = OidcProvider(
        issuer=f"http://127.0.0.1:{port}",
        port=port,
        key=key,
        kid=kid,
        gridos_redirect=gridos_redirect,
        log_path=tmp_path / "oidc-provider.log",
    )
    provider.start()
    try:
        yield provider
    finally:
        provider.stop()


def sign_in(client: TestClient, oidc: OidcProvider, account: str, next: str = "/") -> httpx.Response:
    """Sign `account` in to GridOS through the provider's login form, as a browser would. Returns the
    answer of /auth/callback; on success the client then holds the session cookie."""
    start = client.get("/auth/login", params={"next": next}, follow_redirects=False)
    assert start.status_code == 302, start.text
    back = oidc.browser_flow(start.headers["location"], account, CALLBACK)
    return client.get(back, follow_redirects=False)


def csrf(client: TestClient) -> dict[str, str]:
    """The header a signed-in browser sends with writes."""
    return {"X-CSRF-Token": client.get("/api/v1/me").json()["csrf_token"]}
