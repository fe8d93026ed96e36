"""HTTP routes of identity: OIDC sign-in (/auth/*), who am I (/api/v1/me), API keys and the audit log."""

from __future__ import annotations

import html
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from gridos import deps
from gridos.errors import GridosError, NotFound
from gridos.http import api_router
from gridos.identity.oidc import InvalidToken, pkce_pair
from gridos.identity.principal import Principal
from gridos.identity.service import (
    SESSION_COOKIE,
    IdentityService,
    client_address,
    request_id,
)
from gridos.identity.sessions import PendingLogin
from gridos.security import ADMIN, ANY, require

LOGIN_COOKIE = "gridos_login"
auth_router = APIRouter(prefix="/auth", include_in_schema=False)
me_router = api_router("/api/v1", ["identity"])
keys_router = api_router("/api/v1/keys", ["API keys"])
audit_router = api_router("/api/v1/audit", ["audit"])


Identity = Annotated[IdentityService, Depends(deps.identity)]


# -- sign-in ------------------------------------------------------------------------------------------
def _safe_next(value: str | None) -> str:
    # Only a path on this site: never `//host` or `https://...` (an open redirect would hand out phishing
    # links that start with our own address).
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def _callback_url(request: Request, svc: IdentityService) -> str:
    return svc.settings.oidc_redirect_url or str(request.url_for("oidc_callback"))


def _home_url(request: Request, svc: IdentityService) -> str:
    # Derived like the callback URL: from GRIDOS_OIDC_REDIRECT_URL when set (behind a proxy), else the request.
    configured = svc.settings.oidc_redirect_url
    if configured.endswith("/auth/callback"):
        return configured.removesuffix("auth/callback")
    return str(request.base_url)


def _set_cookie(response: Response, svc: IdentityService, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=svc.settings.session_cookie_secure,
        # Lax, not Strict: the browser comes back from the provider by a cross-site redirect, and the
        # session cookie set there must be sent on the next navigation. Writes need the CSRF header anyway.
        samesite="lax",
    )


def _signin_page(status: int, message: str) -> HTMLResponse:
    # No script, no inline style. Escaped: the message can quote the provider's error_description, which
    # arrives in the query string, i.e. from whoever crafted the link.
    return HTMLResponse(
        f"<!doctype html><title>GridOS sign-in</title><h1>Sign-in failed</h1><p>{html.escape(message)}</p>"
        '<p><a href="/auth/login">Try again</a></p>',
        status_code=status,
    )


@auth_router.get("/login")
def login(request: Request, svc: Identity, next: str | None = None) -> Response:
    """Start Authorization Code + PKCE: remember state, nonce and verifier server-side, go to the provider."""
    if svc.oidc is None:
        raise NotFound("OIDC sign-in is not configured (GRIDOS_OIDC_ISSUER, GRIDOS_OIDC_CLIENT_ID)")
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier, challenge = pkce_pair()
    redirect_uri = _callback_url(request, svc)
    url = svc.oidc.authorization_url(redirect_uri, state, nonce, challenge)
    svc.sessions.begin_login(state, PendingLogin(nonce, verifier, redirect_uri, _safe_next(next)))
    response = RedirectResponse(url, status_code=302)
    # The state also travels in a cookie: a callback is accepted only in the browser that started it
    # (no login CSRF: nobody can sign a victim into the attacker's account).
    _set_cookie(response, svc, LOGIN_COOKIE, state, 600)
    response.headers["Cache-Control"] = "no-store"
    return response


@auth_router.get("/callback", name="oidc_callback")
def callback(
    request: Request,
    svc: Identity,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    if svc.oidc is None:
        raise NotFound("OIDC sign-in is not configured")
    client, rid = client_address(request), request_id(request)

    def refuse(status: int, reason: str, subject: str | None = None) -> Response:
        svc.limiter.failed(f"client:{client}")
        svc.audit.record(
            "auth.signin",
            "denied",
            None,
            client,
            rid,
            status=status,
            detail={"reason": reason},
            subject=subject,
        )
        response = _signin_page(status, reason)
        response.delete_cookie(LOGIN_COOKIE, path="/")
        return response

    wait = svc.limiter.retry_after(f"client:{client}")
    if wait is not None:
        return _signin_page(429, f"too many failed sign-ins; retry in {wait:.0f} s")
    if error:
        return refuse(401, f"the identity provider refused: {error} {error_description or ''}".strip())
    cookie_state = request.cookies.get(LOGIN_COOKIE, "")
    if not code or not state or not secrets.compare_digest(cookie_state.encode(), state.encode()):
        return refuse(400, "this sign-in was not started in this browser (state mismatch); start again")
    pending = svc.sessions.finish_login(state)
    if pending is None:
        return refuse(400, "this sign-in has expired or was already used; start again")
    claims: dict[str, Any] = {}
    try:
        tokens = svc.oidc.exchange(code, pending.redirect_uri, pending.code_verifier)
        claims = svc.oidc.decode(str(tokens.get("id_token", "")), svc.settings.oidc_client_id, pending.nonce)
        # Roles from the ID token, else from the access token meant for us (Entra puts app roles in both).
        if not svc.roles_of(claims) and tokens.get("access_token", "").count(".") == 2:
            access = svc.oidc.decode(tokens["access_token"], svc.settings.audience)
            claims = {**claims, svc.settings.oidc_role_claim: access.get(svc.settings.oidc_role_claim)}
        person = svc.person(claims, "session")
    except InvalidToken as exc:
        return refuse(401, f"the provider's answer did not validate: {exc}")
    except GridosError as exc:
        if exc.status != 403:
            raise
        return refuse(403, exc.detail, subject=str(claims.get(svc.settings.oidc_subject_claim, "")))
    session_id, session = svc.sessions.create(person.subject, person.name, person.role, client)
    signed_in = Principal(person.subject, person.name, person.role, "session", csrf_token=session.csrf_token)
    svc.audit.record("auth.signin", "ok", signed_in, client, rid, status=302)
    response = RedirectResponse(pending.next_path, status_code=302)
    _set_cookie(response, svc, SESSION_COOKIE, session_id, int(svc.settings.session_absolute_seconds))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    response.headers["Cache-Control"] = "no-store"
    return response


@auth_router.post("/logout", status_code=204)
def logout(
    request: Request, svc: Identity, principal: Annotated[Principal, Depends(require(ANY))]
) -> Response:
    """End the session here (and tell the browser where to end it at the provider, if it offers that)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if principal.auth == "session" and cookie:
        svc.sessions.end(cookie)
        svc.audit.record("auth.signout", "ok", principal, client_address(request), request_id(request), 204)
        request.state.audited = True
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=svc.settings.session_cookie_secure)
    end = svc.oidc.end_session_url() if svc.oidc else None
    if end:
        # The console visits this so that the person is signed out at the provider too (a shared control-room
        # browser must not sign the previous person straight back in), and comes back to the console's
        # signed-out page: the site root, registered with the provider as a post-logout redirect URI.
        query = urlencode(
            {"client_id": svc.settings.oidc_client_id, "post_logout_redirect_uri": _home_url(request, svc)}
        )
        response.headers["X-Provider-Logout"] = f"{end}{'&' if '?' in end else '?'}{query}"
    return response


# -- who am I -------------------------------------------------------------------------------------------
class Me(BaseModel):
    subject: str
    name: str
    role: str
    auth: str = Field(description="session | bearer | key")
    csrf_token: str | None = Field(description="send as X-CSRF-Token on writes; only for sessions")


@me_router.get("/me", response_model=Me)
def me(response: Response, principal: Annotated[Principal, Depends(require(ANY))]) -> dict[str, Any]:
    """The caller as GridOS sees it. The console reads its CSRF token here."""
    response.headers["Cache-Control"] = "no-store"
    return principal.me()


# -- API keys -------------------------------------------------------------------------------------------
class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._:/-]*$")
    scopes: list[str] = Field(min_length=1, description="ingest and/or read")
    expires_at: datetime | None = Field(default=None, description="none: until revoked")


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_seconds: float | None = Field(
        default=None, ge=0, le=30 * 86400, description="how long the old key keeps working (default 24 h)"
    )


class KeyOut(BaseModel):
    prefix: str
    name: str
    scopes: list[str]
    state: str = Field(description="active | expired | revoked")
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    replaced_by: str | None


class KeyCreated(KeyOut):
    token: str = Field(description="shown once: store it now, GridOS keeps only its hash")


class KeyRotated(KeyCreated):
    previous: KeyOut


Admin = Annotated[Principal, Depends(require(ADMIN))]


@keys_router.get("", response_model=list[KeyOut])
def list_keys(svc: Identity, _: Admin) -> list[dict[str, Any]]:
    return svc.keys.list()


@keys_router.post("", status_code=201, response_model=KeyCreated)
def create_key(spec: KeyCreate, svc: Identity, principal: Admin, response: Response) -> dict[str, Any]:
    created = svc.keys.create(spec.name, spec.scopes, principal.actor, spec.expires_at)
    response.headers["Location"] = f"/api/v1/keys/{created['prefix']}"
    response.headers["Cache-Control"] = "no-store"
    return created


@keys_router.get("/{prefix}", response_model=KeyOut)
def get_key(prefix: str, svc: Identity, _: Admin) -> dict[str, Any]:
    return svc.keys.get(prefix)


@keys_router.post("/{prefix}/rotate", status_code=201, response_model=KeyRotated)
def rotate_key(
    prefix: str, svc: Identity, principal: Admin, response: Response, body: KeyRotate | None = None
) -> dict[str, Any]:
    overlap = body.overlap_seconds if body and body.overlap_seconds is not None else None
    rotated = svc.keys.rotate(
        prefix, svc.settings.auth_rotation_overlap_seconds if overlap is None else overlap, principal.actor
    )
    response.headers["Cache-Control"] = "no-store"
    return rotated


@keys_router.delete("/{prefix}", status_code=204)
def revoke_key(prefix: str, svc: Identity, _: Admin) -> Response:
    svc.keys.revoke(prefix)
    return Response(status_code=204)


# -- audit ------------------------------------------------------------------------------------------------
@audit_router.get("")
def audit(
    svc: Identity,
    _: Admin,
    subject: str | None = None,
    action: Annotated[str | None, Query(description="substring, e.g. `ack` or `auth.`")] = None,
    outcome: Annotated[str | None, Query(pattern="^(ok|denied|failed)$")] = None,
    from_: Annotated[datetime | None, Query(alias="from")] = None,
    to: datetime | None = None,
    before_id: Annotated[int | None, Query(description="page: next_before_id of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
) -> dict[str, Any]:
    """Every write and sign-in, newest first: who (authenticated subject), under which role, from where."""

    def aware(dt: datetime | None) -> datetime | None:
        return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt

    return svc.audit.query(subject, action, outcome, aware(from_), aware(to), before_id, limit)
