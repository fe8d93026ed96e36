"""Who is calling: a person (browser session or bearer JWT), a named API key, or a static bootstrap token."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from gridos.roles import Role

Auth = Literal["session", "bearer", "key"]

# People's roles are ordered: each includes the ones below it. `ingest` is for machines and stands apart.
RANK = {Role.viewer: 1, Role.operator: 2, Role.engineer: 3, Role.admin: 4, Role.ingest: 0}

# Key scopes and the role each one acts as. A key never gets more than its scopes say.
SCOPES: dict[str, Role] = {"ingest": Role.ingest, "read": Role.viewer}


@dataclass(frozen=True)
class Principal:
    subject: str
    name: str
    role: Role
    auth: Auth
    roles: frozenset[Role] = field(default=frozenset())
    csrf_token: str | None = None
    kind: Literal["person", "key", "token"] = "person"

    def __post_init__(self) -> None:
        if not self.roles:
            object.__setattr__(self, "roles", frozenset({self.role}))

    @property
    def actor(self) -> str:
        """How the alarm journal and rule audit name this caller: the role it acted under, then who. A
        static bootstrap token names no one, so it is recorded as its role alone."""
        if self.kind == "token":
            return self.role.value
        who = self.subject if self.name in ("", self.subject) else f"{self.name} ({self.subject})"
        return f"{self.role.value}:{who}"

    def me(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "name": self.name,
            "role": self.role.value,
            "auth": self.auth,
            "csrf_token": self.csrf_token if self.auth == "session" else None,
        }


def highest(roles: set[Role]) -> Role | None:
    """The one role a person acts under: the highest their claims map to."""
    return max(roles, key=lambda r: RANK[r]) if roles else None
