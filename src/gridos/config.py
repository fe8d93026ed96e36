"""Settings from the environment (GRIDOS_*). One object, built once by the app factory or the CLI."""

from __future__ import annotations

import hashlib
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    admin = "admin"
    ingest = "ingest"


class UnknownDevicePolicy(StrEnum):
    reject = "reject"
    auto_register = "auto_register"


DEFAULT_SQLITE_URL = "sqlite:///./gridos.db"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; unset means the embedded SQLite file ./gridos.db"
    )
    api_tokens: SecretStr = Field(
        default=SecretStr(""), description="comma-separated role:token (token may be sha256:<hex>)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes for `gridos serve`")
    log_level: str = "INFO"
    log_json: bool = True

    auto_migrate: bool | None = Field(
        default=None, description="migrate at start-up; unset means yes for SQLite, no for PostgreSQL"
    )
    extra_measurements: str = Field(default="", description="extra catalogue entries: name:unit,...")
    unknown_device: UnknownDevicePolicy = UnknownDevicePolicy.reject
    max_batch_samples: int = Field(default=50_000, ge=1, description="samples per request before 413")
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024, description="ingest request body limit")
    max_request_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="body limit of every other API request"
    )
    max_future_seconds: float = Field(default=300.0, ge=0)
    retention_days: int = Field(default=30, ge=1, description="raw samples; whole partitions are dropped")
    rollup_retention_days: int = Field(default=400, ge=1)
    partitions_ahead_days: int = Field(default=7, ge=1)
    maintenance_interval_seconds: float = Field(default=3600.0, gt=0)
    stale_after_seconds: float = Field(default=60.0, gt=0, description="a device is stale after this silence")
    raw_query_max_points: int = Field(default=100_000, ge=1)

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)

    fault_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_latency_ms: float = Field(default=0.0, ge=0.0)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    build_revision: str = "unknown"

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url.get_secret_value() if self.database_url else DEFAULT_SQLITE_URL

    @property
    def migrate_on_start(self) -> bool:
        return (not self.is_postgres) if self.auto_migrate is None else self.auto_migrate

    @property
    def is_postgres(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql")

    @cached_property
    def token_roles(self) -> dict[str, Role]:
        """sha256(token) -> role. Plain tokens are hashed here and never kept."""
        result: dict[str, Role] = {}
        for raw in self.api_tokens.get_secret_value().split(","):
            entry = raw.strip()
            if not entry:
                continue
            role, sep, token = entry.partition(":")
            if not sep or not token:
                raise ValueError("GRIDOS_API_TOKENS entries must look like role:token")
            try:
                parsed = Role(role.strip())
            except ValueError:
                raise ValueError(f"GRIDOS_API_TOKENS: unknown role {role.strip()!r}") from None
            token = token.strip()
            digest = token.removeprefix("sha256:") if token.startswith("sha256:") else hash_token(token)
            result[digest] = parsed
        return result

    def masked(self) -> dict[str, Any]:
        data = self.model_dump()
        for key, value in data.items():
            if isinstance(value, SecretStr):
                data[key] = "***" if value.get_secret_value() else ""
        if self.database_url:
            from sqlalchemy.engine import make_url

            data["database_url"] = make_url(self.sqlalchemy_url).render_as_string(hide_password=True)
        else:
            data["database_url"] = f"{DEFAULT_SQLITE_URL} (embedded default)"
        return data
