"""OpenID Connect relying party: discovery, the provider's signing keys (cached, refreshed on rotation),
Authorization Code + PKCE, and validation of ID tokens and bearer access tokens with PyJWT."""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from gridos.errors import ServiceUnavailable
from gridos.identity.config import IdentitySettings

log = logging.getLogger("gridos.identity.oidc")
# A token naming an unknown key makes us fetch the key set again (the provider may have rotated), but not
# more often than this: otherwise forged tokens with random `kid`s would hammer the provider.
MIN_REFRESH_SECONDS = 10.0


class InvalidToken(Exception):
    """A token that is not acceptable; the message says why (logged and audited, never echoed in full)."""


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


class OidcClient:
    def __init__(self, settings: IdentitySettings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_at: float | None = None  # never loaded
        self._forced_at: float | None = None

    def _get(self, url: str) -> dict[str, Any]:
        try:
            response = httpx.get(url, timeout=self.settings.oidc_http_timeout_seconds)
            response.raise_for_status()
            body: dict[str, Any] = response.json()
            return body
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("identity provider unreachable", extra={"url": url, "error": str(exc)[:200]})
            raise ServiceUnavailable("the identity provider is unreachable; retry later") from None

    def metadata(self) -> dict[str, Any]:
        with self._lock:
            fresh = time.monotonic() - self._metadata_at < self.settings.oidc_jwks_ttl_seconds
            if self._metadata is not None and fresh:
                return self._metadata
        url = self.settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        meta = self._get(url)
        if meta.get("issuer") != self.settings.oidc_issuer:
            # OIDC Discovery 4.3: the issuer in the document must be exactly the configured one.
            raise ServiceUnavailable(
                f"the identity provider says its issuer is {meta.get('issuer')!r}, "
                f"not GRIDOS_OIDC_ISSUER {self.settings.oidc_issuer!r}"
            )
        with self._lock:
            self._metadata, self._metadata_at = meta, time.monotonic()
        return meta

    def _signing_key(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        with self._lock:
            stale = self._keys_at is None or now - self._keys_at > self.settings.oidc_jwks_ttl_seconds
            key = self._keys.get(kid or "")
            if key is not None and not stale:
                return key
            may_force = self._forced_at is None or now - self._forced_at >= MIN_REFRESH_SECONDS
        if stale or may_force:
            self._refresh_keys(forced=not stale)
        with self._lock:
            key = self._keys.get(kid or "")
            if key is None and kid is None and len(self._keys) == 1:
                key = next(iter(self._keys.values()))
        if key is None:
            raise InvalidToken(f"signed with a key the provider does not publish (kid {kid!r})")
        return key

    def _refresh_keys(self, forced: bool) -> None:
        body = self._get(self.metadata()["jwks_uri"])
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in body.get("keys", []):
            if jwk.get("use", "sig") != "sig":
                continue
            try:
                parsed = jwt.PyJWK.from_dict(jwk)
            except jwt.PyJWTError:
                continue  # an algorithm or key type we do not support: not a key we will accept
            keys[jwk.get("kid", "")] = parsed
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
            if forced:
                self._forced_at = self._keys_at
        log.info("identity provider keys loaded", extra={"kids": sorted(keys)})

    def decode(self, token: str, audience: str, nonce: str | None = None) -> dict[str, Any]:
        """Signature (provider's JWKS), issuer, audience, exp/nbf/iat with a small leeway."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"not a JWT: {exc}") from None
        alg = header.get("alg")
        if alg not in self.settings.algorithms:
            raise InvalidToken(f"algorithm {alg!r} is not accepted")
        key = self._signing_key(header.get("kid"))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[alg],
                audience=audience,
                issuer=self.settings.oidc_issuer,
                leeway=self.settings.oidc_leeway_seconds,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from None
        if nonce is not None and not secrets.compare_digest(
            str(claims.get("nonce", "")).encode(), nonce.encode()
        ):
            raise InvalidToken("nonce does not match the sign-in")
        return claims

    def authorization_url(self, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
        params = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": redirect_uri,
            "scope": self.settings.oidc_scopes,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if self.settings.oidc_resource:
            params["resource"] = self.settings.oidc_resource
        endpoint = self.metadata()["authorization_endpoint"]
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def exchange(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            "client_id": self.settings.oidc_client_id,
        }
        if self.settings.oidc_resource:
            data["resource"] = self.settings.oidc_resource
        secret = self.settings.oidc_client_secret.get_secret_value()
        auth = (self.settings.oidc_client_id, secret) if secret else None
        if self.settings.oidc_client_assertion_file:
            # Federated credential (RFC 7523): the platform's short-lived token proves who we are, so no
            # client secret exists anywhere. The file is rotated by the kubelet: read it every time.
            with open(self.settings.oidc_client_assertion_file, encoding="utf-8") as f:
                data["client_assertion"] = f.read().strip()
            data["client_assertion_type"] = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        try:
            response = httpx.post(
                self.metadata()["token_endpoint"],
                data=data,
                auth=auth,
                timeout=self.settings.oidc_http_timeout_seconds,
            )
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"the identity provider is unreachable: {exc}") from None
        if response.status_code != 200:
            try:
                err = response.json()
            except ValueError:
                err = {}
            raise InvalidToken(f"token endpoint refused the code: {err.get('error', response.status_code)}")
        body: dict[str, Any] = response.json()
        return body

    def end_session_url(self) -> str | None:
        try:
            return self.metadata().get("end_session_endpoint")
        except ServiceUnavailable:
            return None
