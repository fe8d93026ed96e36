"""`GET /api/v1/me`: who the console is talking as. Today only bearer tokens (static, one per role: the
subject is the role's name); the OIDC sign-in extends `whoami` with the session cookie (auth "session",
with a csrf_token the console sends back as X-CSRF-Token on writes) and API keys (auth "key")."""

from __future__ import annotations

from typing import Literal

from fastapi import Request
from pydantic import BaseModel, Field

from gridos.config import Role
from gridos.http import api_router
from gridos.security import authenticate


class Me(BaseModel):
    subject: str = Field(description="stable id of the caller (for a static token: the role's name)")
    name: str = Field(description="what the console shows as 'signed in as'")
    role: Role
    auth: Literal["session", "bearer", "key"]
    csrf_token: str | None = Field(
        default=None, description="session only: send as X-CSRF-Token on cookie-authenticated writes"
    )


def whoami(request: Request) -> Me:
    role = authenticate(request)
    return Me(subject=role.value, name=role.value, role=role, auth="bearer")


router = api_router("/api/v1", ["identity"])


@router.get("/me", response_model=Me, responses={401: {"description": "not signed in"}})
def me(request: Request) -> Me:
    """The caller's identity and role (any valid credential, ingest included); 401 when not signed in."""
    return whoami(request)
