"""Connector settings from the environment: GRIDOS_MQTT_*, GRIDOS_MODBUS_*, GRIDOS_IEC104_* and GRIDOS_OPCUA_*
(the `mqtt`, `modbus`, `iec104` and `opcua` sections of gridos.config.Settings). All are off by default."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path
from typing import ClassVar, Self

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConnectorConfigError(ValueError):
    """A connector is enabled but its configuration cannot work (raised at start-up, never later)."""


def require_c104() -> None:
    """IEC 104 needs c104, the optional `iec104` extra: c104 is GPL-3.0 and GridOS Apache-2.0, so neither the
    default install nor the image carries it (docs/adr/0055-iec104-library-is-an-optional-extra.md)."""
    if importlib.util.find_spec("c104") is None:
        raise ConnectorConfigError(
            "IEC 104 needs the optional 'iec104' extra (the c104 library, GPL-3.0, is not in the default "
            "install or image): pip install 'gridos[iec104]', or uv sync --extra iec104"
        )


class MqttSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_MQTT_", extra="ignore")

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    tls: bool = Field(default=False, description="connect with TLS (port 8883 by convention)")
    tls_ca_file: Path | None = Field(default=None, description="CA bundle; unset = system trust store")
    tls_cert_file: Path | None = Field(default=None, description="client certificate (mutual TLS)")
    tls_key_file: Path | None = None
    topic: str = Field(default="gridos/+/+/telemetry", description="topic filter, without $share/")
    shared_group: str = Field(
        default="gridos",
        description="shared-subscription group ($share/<group>/...); empty = plain subscription",
    )
    dead_letter_topic: str = "gridos/dead-letter"
    client_id: str = Field(
        default_factory=lambda: f"gridos-{socket.gethostname()}",
        description="unique per replica: the broker keeps this client's session (and its unacked messages)",
    )
    keepalive_seconds: int = Field(default=30, ge=5, le=65535)
    session_expiry_seconds: int = Field(
        default=3600, ge=0, description="how long the broker keeps the session while GridOS is away"
    )
    receive_maximum: int = Field(
        default=1000,
        ge=1,
        le=65535,
        description="unacknowledged messages the broker may have in flight to us",
    )
    max_batch_messages: int = Field(default=500, ge=1, description="messages committed in one transaction")
    reconnect_min_seconds: float = Field(default=1.0, gt=0)
    reconnect_max_seconds: float = Field(default=30.0, gt=0)
    required_for_ready: bool = Field(
        default=False,
        description="a disconnected broker makes /health/ready fail (default: reported, not failing)",
    )

    @model_validator(mode="after")
    def _check(self) -> MqttSettings:
        if self.reconnect_max_seconds < self.reconnect_min_seconds:
            raise ValueError("GRIDOS_MQTT_RECONNECT_MAX_SECONDS must be >= GRIDOS_MQTT_RECONNECT_MIN_SECONDS")
        if "#" in self.dead_letter_topic or "+" in self.dead_letter_topic:
            raise ValueError("GRIDOS_MQTT_DEAD_LETTER_TOPIC must be a topic name, not a filter")
        if self.topic.startswith("$share/"):
            raise ValueError(
                "GRIDOS_MQTT_TOPIC is the filter alone; set the group in GRIDOS_MQTT_SHARED_GROUP"
            )
        return self

    @property
    def subscription(self) -> str:
        return f"$share/{self.shared_group}/{self.topic}" if self.shared_group else self.topic


class _MappedConnector(BaseModel):
    """A connector that, enabled, needs its YAML map file (the field named `map_field`) and that one replica
    runs at a time (the leader lock: Modbus polling, IEC 104 links)."""

    map_field: ClassVar[str]

    enabled: bool = False
    leader_check_seconds: float = Field(
        default=5.0, gt=0, description="how often a standby replica tries to take the connector's leader lock"
    )

    @model_validator(mode="after")
    def _check_map(self) -> Self:
        if self.enabled and getattr(self, self.map_field) is None:
            prefix = self.model_config.get("env_prefix", "")
            raise ValueError(f"{prefix}ENABLED needs {prefix}{self.map_field.upper()} (a YAML file)")
        return self


class ModbusSettings(_MappedConnector, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_MODBUS_", extra="ignore")
    map_field = "register_map"

    register_map: Path | None = Field(
        default=None, description="YAML file: devices, their endpoints, poll settings and register maps"
    )


class Iec104Settings(_MappedConnector, BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_IEC104_", extra="ignore")
    map_field = "point_map"

    point_map: Path | None = Field(
        default=None, description="YAML file: RTU links, their addresses and point maps (IOA -> measurement)"
    )
    max_batch_samples: int = Field(default=5000, ge=1, description="received values committed at once")
    max_pending_samples: int = Field(
        default=1_000_000,
        ge=1000,
        description="values held in memory while the database is unavailable; beyond, the oldest are dropped",
    )


class OpcUaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_OPCUA_", extra="ignore")

    enabled: bool = False
    host: str = Field(default="127.0.0.1", description="address the OPC UA server listens on")
    port: int = Field(default=4840, ge=1, le=65535)
    pki_dir: Path = Field(
        default=Path("gridos-opcua"),
        description="where the server certificate and key are generated at first start (when not given)",
    )
    cert_file: Path | None = Field(default=None, description="server certificate (DER or PEM)")
    key_file: Path | None = Field(default=None, description="its private key (PEM)")
    allow_anonymous: bool = Field(default=False, description="accept sessions without a user token")
    trusted_clients_dir: Path | None = Field(
        default=None,
        description="folder of trusted client application certificates (DER or PEM); unset = any valid one",
    )
    publish_interval_seconds: float = Field(
        default=1.0, gt=0, description="how often live values and alarms are refreshed from the database"
    )

    @model_validator(mode="after")
    def _check(self) -> OpcUaSettings:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("GRIDOS_OPCUA_CERT_FILE and GRIDOS_OPCUA_KEY_FILE go together")
        return self
