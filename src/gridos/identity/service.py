"""Authentication: which principal a request carries, from whichever credential it presents.

Order: an `Authorization: Bearer` header (an API key `gk_...`, a provider's JWT access token, or a static
bootstrap token), else the session cookie. A header wins over a cookie, so cookie-only CSRF rules apply
only to requests a browser could have been tricked into sending.
"""

from __future__ import annotations

import hmac
import logging
import time
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from gridos.config import Role, Settings, hash_token
from gridos.errors import Forbidden, GridosError, Unauthorized
from gridos.identity.audit import AuditLog
from gridos.identity.config import IdentitySettings
from gridos.identity.keys import KeyStore
from gridos.identity.oidc import InvalidToken, OidcClient
from gridos.identity.principal import SCOPES, Principal, highest
from gridos.identity.ratelimit import FailureLimiter
from gridos.identity.sessions import SessionStore

log = logging.getLogger("gridos.identity")
SESSION_COOKIE = "gridos_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC_WARNING_EVERY = 300.0


class TooManyFailures(GridosError):
    status = 429
    title = "Too many failed authentications"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def request_id(request: Request) -> str | None:
    from gridos.observability.logging import request_id_var

    return request_id_var.get() or request.headers.get("x-request-id")


class IdentityService:
    def __init__(self, settings: Settings, identity: IdentitySettings, engine: Engine) -> None:
        self.settings = identity
        self.static_tokens = settings.token_roles
        self.keys = KeyStore(engine, identity.auth_key_cache_seconds)
        self.sessions = SessionStore(engine, identity.session_idle_seconds, identity.session_absolute_seconds)
        self.audit = AuditLog(engine)
        self.limiter = FailureLimiter(identity.auth_max_failures, identity.auth_failure_window_seconds)
        self.oidc = OidcClient(identity) if identity.oidc_enabled else None
        self._static_warned: dict[Role, float] = {}

    # -- the one entry point routes use (through gridos.security) ---------------------------------
    def authenticate(self, request: Request) -> Principal:
        cached: Principal | None = getattr(request.state, "principal", None)
        if cached is not None:
            return cached
        header = request.headers.get("authorization", "")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("malformed Authorization header (Authorization: Bearer <token>)")
            principal = self._bearer(token.strip(), request)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            if not cookie:
                raise Unauthorized(
                    "not signed in: send Authorization: Bearer <token> or sign in at /auth/login"
                )
            principal = self._session(cookie, request)
        request.state.principal = principal
        request.state.role = principal.role
        if principal.auth == "session" and request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            # Bytes: compare_digest refuses non-ASCII str, and a header may carry any latin-1 byte.
            if not sent or not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
                raise Forbidden(f"CSRF check failed: a signed-in browser must send the {CSRF_HEADER} header")
        return principal

    def _session(self, cookie: str, request: Request) -> Principal:
        # Session ids are 256-bit random values: a miss is an expired session, not a guess, so it is not
        # counted against the client (a console polling with a stale cookie must not lock its office out).
        session = self.sessions.lookup(cookie)
        if session is None:
            raise Unauthorized("session expired or signed out; sign in again at /auth/login")
        return Principal(
            subject=session.subject,
            name=session.name,
            role=session.role,
            auth="session",
            csrf_token=session.csrf_token,
        )

    def _bearer(self, token: str, request: Request) -> Principal:
        client = client_address(request)
        prefix = self.keys.prefix_of(token)
        limited = [f"client:{client}"] + ([f"key:{prefix}"] if prefix else [])
        wait = self.limiter.retry_after(*limited)
        if wait is not None:
            raise TooManyFailures(
                f"too many failed authentications from this client or for this key; retry in {wait:.0f} s",
                retry_after=max(1, round(wait)),
            )
        try:
            if prefix is not None:
                return self._key(token, prefix)
            if self.oidc is not None and token.count(".") == 2:
                return self._jwt(token)
            return self._static(token)
        except (Unauthorized, InvalidToken) as exc:
            self.limiter.failed(*limited)
            request.state.audited = True  # recorded here, with the reason; the write audit skips it
            reason = str(exc)
            self.audit.record(
                "auth.failed",
                "denied",
                None,
                client,
                request_id(request),
                status=401,
                target=f"{request.method} {request.url.path}",
                detail={"reason": reason[:300], "key": prefix},
            )
            log.warning("authentication failed", extra={"client": client, "reason": reason[:300]})
            if isinstance(exc, InvalidToken):
                raise Unauthorized(f"invalid bearer token: {reason}") from None
            raise

    def _key(self, token: str, prefix: str) -> Principal:
        key = self.keys.verify(token)
        if key is None:
            raise Unauthorized(f"API key {prefix!r} is unknown, revoked, expired or wrong")
        roles = frozenset(SCOPES[s] for s in key.scopes if s in SCOPES)
        return Principal(
            subject=f"key:{key.prefix}",
            name=key.name,
            role=Role.ingest if Role.ingest in roles else Role.viewer,
            roles=roles,
            auth="key",
            kind="key",
        )

    def _static(self, token: str) -> Principal:
        digest = hash_token(token)
        for known, role in self.static_tokens.items():
            if hmac.compare_digest(known, digest):
                if self.settings.auth_production:
                    now = time.monotonic()
                    if now - self._static_warned.get(role, -STATIC_WARNING_EVERY) >= STATIC_WARNING_EVERY:
                        self._static_warned[role] = now
                        log.warning(
                            "static bootstrap token used in production mode: replace GRIDOS_API_TOKENS "
                            "with OIDC sign-in and named API keys (gridos keys create)",
                            extra={"token_role": role.value},
                        )
                return Principal(
                    subject=f"token:{role.value}",
                    name="bootstrap token",
                    role=role,
                    auth="bearer",
                    kind="token",
                )
        raise Unauthorized("unknown token")

    def _jwt(self, token: str) -> Principal:
        assert self.oidc is not None
        claims = self.oidc.decode(token, self.settings.audience)
        return self.person(claims, "bearer")

    # -- people ------------------------------------------------------------------------------------
    def roles_of(self, claims: dict[str, Any]) -> set[Role]:
        raw = claims.get(self.settings.oidc_role_claim)
        values = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
        mapping = self.settings.role_map
        return {mapping[str(v)] for v in values if str(v) in mapping}

    def person(self, claims: dict[str, Any], auth: str) -> Principal:
        role = highest(self.roles_of(claims))
        subject = str(claims.get(self.settings.oidc_subject_claim) or claims.get("sub") or "")
        if not subject:
            raise InvalidToken(f"no {self.settings.oidc_subject_claim!r} claim")
        name = str(claims.get(self.settings.oidc_name_claim) or claims.get("name") or subject)
        if role is None:
            raise Forbidden(
                f"{name} is authenticated but holds no GridOS role (claim {self.settings.oidc_role_claim!r})"
            )
        return Principal(subject=subject, name=name, role=role, auth=auth)  # type: ignore[arg-type]
