"""Named API keys for machines (gateways, simulators, CI): shown once, stored hashed, named by a prefix.

A key looks like `gk_<prefix>_<secret>`. Rotation issues a new key with the same name and scopes and lets
the old one live on for an overlap, so a fleet can be re-keyed without a gap; revocation is immediate.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select, update

from gridos.errors import Conflict, InvalidInput, NotFound
from gridos.identity.models import api_keys
from gridos.identity.principal import SCOPES

TOKEN_PREFIX = "gk_"  # noqa: S105 - the public marker of a key, not a secret
LAST_USED_EVERY = timedelta(seconds=60)  # one write a minute per key at most, not one per request


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _aware(dt: datetime | None) -> datetime | None:
    # SQLite hands timestamps back naive; they were written in UTC.
    return dt.replace(tzinfo=UTC) if dt is not None and dt.tzinfo is None else dt


def parse_scopes(raw: list[str] | str) -> list[str]:
    items = [s.strip() for s in (raw.split(",") if isinstance(raw, str) else raw) if s.strip()]
    unknown = sorted(set(items) - set(SCOPES))
    if unknown or not items:
        raise InvalidInput(
            f"unknown key scope(s) {unknown}; use one or more of {sorted(SCOPES)}" if unknown else "no scope",
            errors=[{"field": "scopes", "message": f"each one of {sorted(SCOPES)}"}],
        )
    return sorted(set(items))


@dataclass(frozen=True)
class ApiKey:
    prefix: str
    name: str
    scopes: tuple[str, ...]
    secret_hash: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None

    def valid_at(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


def _row_out(row: Any, now: datetime) -> dict[str, Any]:
    expires, revoked = _aware(row.expires_at), _aware(row.revoked_at)
    state = "revoked" if revoked else "expired" if expires and expires <= now else "active"
    return {
        "prefix": row.prefix,
        "name": row.name,
        "scopes": row.scopes.split(","),
        "state": state,
        "created_at": _aware(row.created_at),
        "created_by": row.created_by,
        "expires_at": expires,
        "last_used_at": _aware(row.last_used_at),
        "revoked_at": revoked,
        "replaced_by": row.replaced_by,
    }


class KeyStore:
    def __init__(self, engine: Engine, cache_seconds: float) -> None:
        self.engine = engine
        self.cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._lock = threading.Lock()

    # -- administration --------------------------------------------------------------------------
    def create(
        self, name: str, scopes: list[str] | str, created_by: str, expires_at: datetime | None = None
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        if expires_at is not None and _aware(expires_at) <= now:  # type: ignore[operator]
            raise InvalidInput(
                "expires_at is in the past", errors=[{"field": "expires_at", "message": "past"}]
            )
        scope_list = parse_scopes(scopes)
        prefix, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        token = f"{TOKEN_PREFIX}{prefix}_{secret}"
        with self.engine.begin() as conn:
            conn.execute(
                insert(api_keys).values(
                    prefix=prefix,
                    name=name,
                    secret_hash=_hash(token),
                    scopes=",".join(scope_list),
                    created_at=now,
                    created_by=created_by,
                    expires_at=_aware(expires_at),
                )
            )
        return self.get(prefix) | {"token": token}

    def list(self, include_inactive: bool = True) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.id)).all()
        items = [_row_out(r, now) for r in rows]
        return items if include_inactive else [i for i in items if i["state"] == "active"]

    def get(self, prefix: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        if row is None:
            raise NotFound(f"no API key with prefix {prefix!r}")
        return _row_out(row, datetime.now(UTC))

    def rotate(self, prefix: str, overlap_seconds: float, rotated_by: str) -> dict[str, Any]:
        """A new key with the same name and scopes; the old one keeps working for `overlap_seconds`."""
        old = self.get(prefix)
        if old["state"] != "active":
            raise Conflict(f"API key {prefix!r} is {old['state']}; only an active key can be rotated")
        now = datetime.now(UTC)
        new = self.create(old["name"], old["scopes"], rotated_by, old["expires_at"])
        until = now + timedelta(seconds=overlap_seconds)
        if old["expires_at"] is not None and old["expires_at"] < until:
            until = old["expires_at"]
        with self.engine.begin() as conn:
            conn.execute(
                update(api_keys)
                .where(api_keys.c.prefix == prefix)
                .values(expires_at=until, replaced_by=new["prefix"])
            )
        self._forget(prefix)
        return new | {"previous": self.get(prefix)}

    def revoke(self, prefix: str) -> dict[str, Any]:
        key = self.get(prefix)
        if key["revoked_at"] is None:
            with self.engine.begin() as conn:
                conn.execute(
                    update(api_keys).where(api_keys.c.prefix == prefix).values(revoked_at=datetime.now(UTC))
                )
        self._forget(prefix)
        return self.get(prefix)

    # -- authentication --------------------------------------------------------------------------
    @staticmethod
    def prefix_of(token: str) -> str | None:
        if not token.startswith(TOKEN_PREFIX):
            return None
        prefix, sep, secret = token[len(TOKEN_PREFIX) :].partition("_")
        return prefix if sep and secret and len(prefix) <= 16 else None

    def verify(self, token: str) -> ApiKey | None:
        """The key this token is, if it is valid now; None otherwise (unknown, wrong secret, expired,
        revoked). A replica trusts its cached row for `cache_seconds` (revocation elsewhere takes that
        long to reach it); a revocation through this replica is immediate."""
        prefix = self.prefix_of(token)
        if prefix is None:
            return None
        key = self._load(prefix)
        now = datetime.now(UTC)
        if key is None or not hmac.compare_digest(key.secret_hash, _hash(token)) or not key.valid_at(now):
            return None
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
            with self.engine.begin() as conn:
                conn.execute(update(api_keys).where(api_keys.c.prefix == prefix).values(last_used_at=now))
            self._forget(prefix)
        return key

    def _load(self, prefix: str) -> ApiKey | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(prefix)
            if cached is not None and now - cached[0] < self.cache_seconds:
                return cached[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        key = (
            None
            if row is None
            else ApiKey(
                prefix=row.prefix,
                name=row.name,
                scopes=tuple(row.scopes.split(",")),
                secret_hash=row.secret_hash,
                expires_at=_aware(row.expires_at),
                revoked_at=_aware(row.revoked_at),
                last_used_at=_aware(row.last_used_at),
            )
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[prefix] = (now, key)
        return key

    def _forget(self, prefix: str) -> None:
        with self._lock:
            self._cache.pop(prefix, None)
