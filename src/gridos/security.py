"""Who may call what: the role-check dependencies every route uses.

`require(ALLOWED)` authenticates the request (gridos.identity: session cookie, bearer JWT from the
identity provider, named API key, or a static bootstrap token) and refuses a principal whose roles are not
in ALLOWED. It also declares the bearer and cookie security schemes, so the OpenAPI document says which
operations need credentials without any view repeating it.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request, Security
from fastapi.security import APIKeyCookie, HTTPBearer

from gridos.deps import installed, services
from gridos.errors import Forbidden
from gridos.identity.principal import Principal
from gridos.identity.service import SESSION_COOKIE
from gridos.roles import Role

# People's roles include those below them (viewer < operator < engineer < admin); `ingest` is for machines.
READ = frozenset({Role.viewer, Role.operator, Role.engineer, Role.admin})
OPERATE = frozenset({Role.operator, Role.engineer, Role.admin})
ENGINEER = frozenset({Role.engineer, Role.admin})  # alarm rules, the device registry
ADMIN = frozenset({Role.admin})
INGEST = frozenset({Role.ingest, Role.admin})
ANY = frozenset(Role)

bearer_scheme = HTTPBearer(
    scheme_name="bearer",
    bearerFormat="JWT or API key",
    description="An access token from the identity provider (JWT), a named API key (`gk_...`), "
    "or a static bootstrap token (GRIDOS_API_TOKENS).",
    auto_error=False,
)
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE,
    scheme_name="session",
    description="Browser session from /auth/login (OIDC). Writes also need the X-CSRF-Token header "
    "(its value is `csrf_token` of GET /api/v1/me).",
    auto_error=False,
)


def authenticate(request: Request) -> Principal:
    principal: Principal = installed(services(request).identity, "identity").authenticate(request)
    return principal


def require(allowed: frozenset[Role]) -> Callable[..., Principal]:
    def dependency(
        request: Request,
        _bearer: object = Security(bearer_scheme),
        _cookie: object = Security(cookie_scheme),
    ) -> Principal:
        principal = authenticate(request)
        if not principal.roles & allowed:
            raise Forbidden(
                f"role {principal.role.value!r} may not do this; needs one of {sorted(r.value for r in allowed)}"
            )
        return principal

    # FastAPI caches dependencies per request by identity: one function per allowed set is enough, and
    # the OpenAPI generator reads the allowed roles from here (x-gridos-roles).
    dependency.allowed_roles = allowed  # type: ignore[attr-defined]
    return dependency
