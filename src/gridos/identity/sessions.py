"""Server-side browser sessions and the sign-ins under way. The cookie carries only a random id."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, insert, select, update

from gridos.identity.models import auth_logins, auth_sessions
from gridos.roles import Role

LOGIN_TTL = timedelta(minutes=10)
TOUCH_EVERY = timedelta(seconds=30)  # the idle clock is kept to this precision, sparing a write per request


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _aware(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


@dataclass(frozen=True)
class Session:
    subject: str
    name: str
    role: Role
    csrf_token: str


@dataclass(frozen=True)
class PendingLogin:
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_path: str


class SessionStore:
    def __init__(self, engine: Engine, idle_seconds: float, absolute_seconds: float) -> None:
        self.engine = engine
        self.idle = timedelta(seconds=idle_seconds)
        # Record activity often enough that an active session never reaches the idle limit.
        self.touch_every = min(TOUCH_EVERY, self.idle / 4)
        self.absolute = timedelta(seconds=absolute_seconds)

    def create(self, subject: str, name: str, role: Role, client: str | None) -> tuple[str, Session]:
        """Returns the cookie value (shown to the browser only) and the session."""
        now = datetime.now(UTC)
        session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(delete(auth_sessions).where(auth_sessions.c.expires_at < now))
            conn.execute(
                insert(auth_sessions).values(
                    id_hash=_hash(session_id),
                    subject=subject,
                    name=name,
                    role=role.value,
                    csrf_token=csrf,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + self.absolute,
                    client=(client or "")[:64],
                )
            )
        return session_id, Session(subject, name, role, csrf)

    def lookup(self, session_id: str) -> Session | None:
        """The live session for this cookie; an idle or expired one is deleted and None returned."""
        now = datetime.now(UTC)
        key = _hash(session_id)
        with self.engine.connect() as conn:
            row = conn.execute(select(auth_sessions).where(auth_sessions.c.id_hash == key)).first()
        if row is None:
            return None
        last_seen = _aware(row.last_seen_at)
        if _aware(row.expires_at) <= now or last_seen + self.idle <= now:
            self.end(session_id)
            return None
        if now - last_seen >= self.touch_every:
            with self.engine.begin() as conn:
                conn.execute(
                    update(auth_sessions).where(auth_sessions.c.id_hash == key).values(last_seen_at=now)
                )
        return Session(row.subject, row.name, Role(row.role), row.csrf_token)

    def end(self, session_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(auth_sessions).where(auth_sessions.c.id_hash == _hash(session_id)))

    # -- sign-ins under way ----------------------------------------------------------------------
    def begin_login(self, state: str, login: PendingLogin) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(auth_logins).where(auth_logins.c.created_at < now - LOGIN_TTL))
            conn.execute(
                insert(auth_logins).values(
                    state_hash=_hash(state),
                    nonce=login.nonce,
                    code_verifier=login.code_verifier,
                    redirect_uri=login.redirect_uri,
                    next_path=login.next_path,
                    created_at=now,
                )
            )

    def finish_login(self, state: str) -> PendingLogin | None:
        """The sign-in this state started, consumed (a state works once), if it is recent enough."""
        key = _hash(state)
        with self.engine.begin() as conn:
            row = conn.execute(select(auth_logins).where(auth_logins.c.state_hash == key)).first()
            if row is None:
                return None
            conn.execute(delete(auth_logins).where(auth_logins.c.state_hash == key))
        if _aware(row.created_at) < datetime.now(UTC) - LOGIN_TTL:
            return None
        return PendingLogin(row.nonce, row.code_verifier, row.redirect_uri, row.next_path)
