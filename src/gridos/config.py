"""Settings from the environment (GRIDOS_*): one object, built once by the CLI (or the app factory of a
uvicorn worker) and passed down. The core values are its own fields; every feature's values are a nested
section (`settings.alarms`, `settings.mqtt`, ...) defined beside the feature and read from that feature's
variables (GRIDOS_ALARMS_*, GRIDOS_MQTT_*, ...)."""

from __future__ import annotations

import difflib
import hashlib
import os
from collections.abc import Mapping
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridos.alarms.config import AlarmSettings
from gridos.archive.config import ArchiveSettings
from gridos.identity.config import IdentitySettings
from gridos.ingest.config import Iec104Settings, ModbusSettings, MqttSettings, OpcUaSettings
from gridos.roles import Role

__all__ = ["Role", "Settings", "UnknownDevicePolicy", "hash_token", "settings_sections"]


class UnknownDevicePolicy(StrEnum):
    reject = "reject"
    auto_register = "auto_register"


EMBEDDED_DB_NAME = "gridos.db"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_", extra="ignore")

    database_url: SecretStr | None = Field(
        default=None, description="SQLAlchemy URL; unset means the embedded SQLite file <data_dir>/gridos.db"
    )
    data_dir: Path = Field(
        default=Path("data"),
        description="where the embedded database lives (relative to the working directory); logged at start",
    )
    api_tokens: SecretStr = Field(
        default=SecretStr(""), description="comma-separated role:token (token may be sha256:<hex>)"
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64, description="uvicorn worker processes for `gridos serve`")
    log_level: str = "INFO"
    log_json: bool = True
    access_log: bool = Field(
        default=False, description="one INFO log line per request (off: metrics count them)"
    )

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
    rollup_interval_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often closed minutes are rolled up (until then read from raw samples)",
    )
    rollup_pause_ratio: float = Field(
        default=1.0,
        ge=0,
        le=10,
        description="after each transaction the rollup job pauses this many times as long as it took, while "
        "the run stays within GRIDOS_ROLLUP_INTERVAL_SECONDS (beyond that it catches up flat out): spreads "
        "compaction so that ingest and alarms do not queue behind it; 0 = never pause",
    )
    partitions_ahead_days: int = Field(default=7, ge=1)
    maintenance_interval_seconds: float = Field(default=3600.0, gt=0)
    stale_after_seconds: float = Field(default=60.0, gt=0, description="a device is stale after this silence")
    raw_query_max_points: int = Field(default=100_000, ge=1)

    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    gil_switch_interval_ms: float = Field(
        default=1.0,
        gt=0,
        le=100,
        description="how long a thread may hold the GIL while others wait (Python's default is 5): a "
        "request back from the database waits at most this for a thread validating a large batch",
    )

    fault_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    fault_latency_ms: float = Field(default=0.0, ge=0.0)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    max_connections: int = Field(
        default=1000, ge=1, description="open connections per process; more are answered 503 and closed"
    )
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, description="a request's line and headers must arrive within this (else 408)"
    )
    body_timeout_seconds: float = Field(
        default=30.0, gt=0, description="longest pause between two reads of a request body (else 408)"
    )
    build_revision: str = "unknown"

    # The sections, in the order `gridos config` prints them. Each reads its own variables when it is not
    # given; tests and `gridos demo` pass them (or dicts of their values) instead of setting variables.
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    mqtt: MqttSettings = Field(default_factory=MqttSettings)
    modbus: ModbusSettings = Field(default_factory=ModbusSettings)
    iec104: Iec104Settings = Field(default_factory=Iec104Settings)
    opcua: OpcUaSettings = Field(default_factory=OpcUaSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings)

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @model_validator(mode="after")
    def _rollups_cover_what_minute_steps_read(self) -> Settings:
        # Whole-minute history steps read rollups only (the cold tier: Parquet, before the rollup cutoff):
        # rollups dropped while raw rows are kept and not archived would answer those days as empty.
        if self.archive.enabled:
            floor, why = self.archive.after_days + 1, "GRIDOS_ARCHIVE_AFTER_DAYS + 1 (a day for the archiver)"
        else:
            floor, why = self.retention_days, "GRIDOS_RETENTION_DAYS (raw samples)"
        if self.rollup_retention_days < floor:
            raise PydanticCustomError(
                "rollup_retention",
                "GRIDOS_ROLLUP_RETENTION_DAYS ({rollups}) is below {why} = {floor}: minute-step history of "
                "the days in between would come back empty",
                {"rollups": self.rollup_retention_days, "why": why, "floor": floor},
            )
        return self

    @property
    def embedded_db_path(self) -> Path:
        return self.data_dir.resolve() / EMBEDDED_DB_NAME

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"sqlite:///{self.embedded_db_path}"

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file this configuration uses (embedded default or an explicit sqlite:/// URL)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.sqlalchemy_url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database).resolve()

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

    def replace(self, **changes: Any) -> Settings:
        """A validated copy with some values changed, the environment not read again. A section's changes
        are a dict of its values: `settings.replace(api_tokens=..., mqtt={"enabled": True})`."""
        data: dict[str, Any] = {name: getattr(self, name) for name in type(self).model_fields}
        for name, value in changes.items():
            data[name] = getattr(self, name).model_dump() | value if name in SECTIONS else value
        return type(self).model_validate(data)

    def masked(self) -> dict[str, Any]:
        """The effective configuration, secrets masked (`gridos config`): the core values, then one object
        per section."""
        data = _masked(self.model_dump(exclude=set(SECTIONS)))
        if self.database_url:
            from sqlalchemy.engine import make_url

            data["database_url"] = make_url(self.sqlalchemy_url).render_as_string(hide_password=True)
        else:
            data["database_url"] = f"{self.sqlalchemy_url} (embedded default)"
        data["data_dir"] = str(self.data_dir.resolve())
        for name in SECTIONS:
            data[name] = _masked(getattr(self, name).model_dump())
        return data


SECTIONS = ("identity", "mqtt", "modbus", "iec104", "opcua", "alarms", "archive")


# Variables read outside a settings class (gridos.observability.tracing), and those the delivery tooling
# (gridctl, CI) reads from the same environment: known, so never reported as unknown.
OTHER_ENV_NAMES = frozenset(
    {
        "GRIDOS_OTEL_EXPORTER_OTLP_ENDPOINT",
        "GRIDOS_SMOKE_TOKEN",
        "GRIDOS_URL",
        "GRIDOS_URLS",
        "GRIDOS_CANARY_OVERLAY",
        "GRIDOS_PG_BIN",  # the test harness's PostgreSQL binaries
    }
)


def settings_sections() -> dict[str, type[BaseSettings]]:
    """Every settings class of the service by section name: what `gridos config` prints and which
    GRIDOS_* names are valid. A feature with its own settings class adds it as a section of Settings."""
    sections: dict[str, type[BaseSettings]] = {"core": Settings}
    for name in SECTIONS:
        sections[name] = Settings.model_fields[name].annotation  # type: ignore[assignment]
    return sections


def known_env_names() -> set[str]:
    names = set(OTHER_ENV_NAMES)
    for cls in settings_sections().values():
        prefix = str(cls.model_config.get("env_prefix", "")).upper()
        names |= {f"{prefix}{field.upper()}" for field in cls.model_fields if field not in SECTIONS}
    return names


def invalid_setting(exc: ValidationError) -> str:
    """One line naming the variable that holds the invalid value: `GRIDOS_MQTT_PORT: Input should be...`."""
    e = exc.errors()[0]
    loc = [str(part) for part in e["loc"]]
    cls: type[BaseSettings] = Settings
    for candidate in settings_sections().values():
        if candidate.__name__ == exc.title:  # raised while a section read its own variables
            cls = candidate
    if cls is Settings and loc and loc[0] in SECTIONS:  # a section given as values
        cls, loc = settings_sections()[loc[0]], loc[1:]
    prefix = str(cls.model_config.get("env_prefix", ""))
    return f"{prefix}{loc[0].upper()}: {e['msg']}" if loc else e["msg"]


def unknown_env_warnings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One sentence per GRIDOS_* variable no setting reads (a typo silently falls back to the default),
    naming the closest valid variable when there is one."""
    env = os.environ if environ is None else environ
    known = known_env_names()
    warnings = []
    # Compared without the common prefix, which would make every pair look alike.
    suffixes = {name.removeprefix("GRIDOS_"): name for name in known}
    for name in sorted(n for n in env if n.upper().startswith("GRIDOS_") and n.upper() not in known):
        close = difflib.get_close_matches(name.upper().removeprefix("GRIDOS_"), suffixes, n=1, cutoff=0.6)
        hint = f"; did you mean {suffixes[close[0]]}?" if close else ""
        warnings.append(f"unknown setting {name} is ignored{hint}")
    return warnings


def _masked(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k: ("***" if v.get_secret_value() else "") if isinstance(v, SecretStr) else v for k, v in data.items()
    }
