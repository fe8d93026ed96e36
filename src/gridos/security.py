"""Bearer tokens and roles. Tokens are compared by SHA-256 digest; plain values are never kept or logged."""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Request

from gridos.config import Role, hash_token
from gridos.errors import Forbidden, Unauthorized

READ = frozenset({Role.viewer, Role.operator, Role.admin})
OPERATE = frozenset({Role.operator, Role.admin})
ADMIN = frozenset({Role.admin})
INGEST = frozenset({Role.ingest, Role.admin})


def authenticate(request: Request) -> Role:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("missing bearer token (Authorization: Bearer <token>)")
    digest = hash_token(token.strip())
    roles: dict[str, Role] = request.app.state.settings.token_roles
    for known, role in roles.items():
        if hmac.compare_digest(known, digest):
            request.state.role = role
            return role
    raise Unauthorized("unknown token")


def require(allowed: frozenset[Role]) -> Callable[[Request], Role]:
    def dependency(request: Request) -> Role:
        role = authenticate(request)
        if role not in allowed:
            raise Forbidden(
                f"role {role.value!r} may not do this; needs one of {sorted(r.value for r in allowed)}"
            )
        return role

    return dependency
