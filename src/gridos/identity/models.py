"""Identity tables (SQLAlchemy Core). The DDL lives in the migration 0003_identity."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Integer, String, Table, Text

from gridos.db.tables import metadata

# Machine identities. The token itself is never stored: only its SHA-256 (the secret part has 256 bits
# of entropy, so a slow hash adds nothing) and the public prefix that names it in lists and logs.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True)),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    Column("replaced_by", String(16)),
)

# Browser sessions, server side: the cookie holds a random id, the table its SHA-256 (a copy of the
# table does not let anyone in).
auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("subject", String(200), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("client", String(64)),
)

# Sign-ins under way: what /auth/callback needs to finish one (PKCE verifier, nonce, where to go next).
auth_logins = Table(
    "auth_logins",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("nonce", String(64), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("next_path", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("status", Integer),
    Column("subject", String(200)),
    Column("role", String(16)),
    Column("auth", String(16)),
    Column("client", String(64)),
    Column("request_id", String(128)),
    Column("target", Text),
    Column("detail", JSON),
)
