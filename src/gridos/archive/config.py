"""Cold-tier settings from the environment (GRIDOS_ARCHIVE_*), the `archive` section of
gridos.config.Settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArchiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDOS_ARCHIVE_", extra="ignore")

    location: str = Field(
        default="",
        description="where the Parquet tier lives: a directory (/var/lib/gridos/archive or file:///...), "
        "or abfs://<container>@<account>.dfs.core.windows.net/<prefix>; empty disables the cold tier",
    )
    azure_connection_string: SecretStr = Field(
        default=SecretStr(""),
        description="Azure Storage connection string (Azurite in tests); empty means "
        "DefaultAzureCredential (workload identity on AKS)",
    )
    after_days: int = Field(
        default=7, ge=1, description="a UTC day is archived once it ended more than this many days ago"
    )
    interval_seconds: float = Field(
        default=3600.0, gt=0, description="how often the service archives (0 disables the schedule)"
    )
    schedule: bool = Field(
        default=True, description="archive from the service on a schedule (off when a CronJob does it)"
    )
    cold_retention_days: int = Field(
        default=0, ge=0, description="delete cold days older than this many days; 0 keeps them forever"
    )
    cache_dir: Path = Field(
        default=Path("/tmp/gridos-archive-cache"),  # noqa: S108 - a cache; files are content-addressed and verified
        description="verified local copies of remote Parquet files, read by DuckDB",
    )
    row_group_rows: int = Field(default=131_072, ge=1024, description="Parquet row-group size")

    @property
    def enabled(self) -> bool:
        return bool(self.location.strip())
