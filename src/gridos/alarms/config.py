"""Alarm settings from the environment (GRIDOS_ALARMS_*): the `alarms` section of gridos.config.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _urls(raw: str) -> list[str]:
    return [u.strip() for u in raw.split(",") if u.strip()]


class AlarmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_ALARMS_", extra="ignore")

    enabled: bool = Field(default=True, description="evaluate alarms on ingest")
    rules_file: Path | None = Field(default=None, description="YAML rules loaded (upserted) at start-up")
    flood_threshold: int = Field(default=10, ge=1, description="more than this many new alarms ...")
    flood_window_seconds: float = Field(default=600.0, gt=0, description="... in this window is a flood")
    chatter_threshold: int = Field(default=3, ge=2, description="this many activations ...")
    chatter_window_seconds: float = Field(default=60.0, gt=0, description="... in this window: chattering")
    comm_failure_multiplier: float = Field(
        default=3.0, gt=1.0, description="stale after this many expected intervals without a sample"
    )
    comm_check_seconds: float = Field(default=5.0, gt=0, description="how often staleness is checked")
    supervise_seconds: float = Field(
        default=1.0, gt=0, description="shelve expiry, re-alarm, flood and gauges are checked this often"
    )
    sync_seconds: float = Field(
        default=0.25, gt=0, description="poll for transitions committed by other replicas (SSE, caches)"
    )
    device_refresh_seconds: float = Field(default=10.0, gt=0, description="reload device ratings")
    max_shelve_seconds: float = Field(default=8 * 3600.0, gt=0, description="longest shelve allowed")
    webhook_urls: str = Field(default="", description="comma-separated URLs receiving transitions as JSON")
    alertmanager_urls: str = Field(
        default="", description="comma-separated Alertmanager /api/v2/alerts URLs (Alertmanager payload)"
    )
    webhook_timeout_seconds: float = Field(default=5.0, gt=0)
    retry_initial_seconds: float = Field(default=1.0, gt=0, description="first retry delay")
    retry_max_seconds: float = Field(default=300.0, gt=0, description="backoff cap; retries never stop")
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    external_url: str = Field(default="", description="GridOS base URL put in Alertmanager generatorURL")

    @property
    def webhooks(self) -> list[str]:
        return _urls(self.webhook_urls)

    @property
    def alertmanagers(self) -> list[str]:
        return _urls(self.alertmanager_urls)
