"""GridOS cold tier: closed days as Parquet on a local directory or Azure Blob Storage / ADLS Gen2.

`install(app, services)` (when GRIDOS_ARCHIVE_LOCATION is set) lets the history API read archived days and
runs the archiver on a schedule (services.archiver); `gridos archive|export|backup|restore` are in
gridos.archive.cli. See docs/archive.md.
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gridos.services import Services

log = logging.getLogger("gridos.archive")

__all__ = ["install"]


def install(app: FastAPI, services: Services) -> None:
    settings = services.settings.archive
    if not settings.enabled:
        return
    retention = services.settings.retention_days
    if settings.after_days >= retention:
        # Retention drops hot partitions after GRIDOS_RETENTION_DAYS whether archived or not: a day must be
        # archivable well before that, or it would be lost.
        raise ValueError(
            f"GRIDOS_ARCHIVE_AFTER_DAYS ({settings.after_days}) must be less than GRIDOS_RETENTION_DAYS "
            f"({retention})"
        )
    # Imported only when the cold tier is on: without it no process pays for pyarrow, DuckDB or Azure.
    from gridos.archive.archiver import Archiver
    from gridos.archive.query import ColdTier
    from gridos.archive.storage import open_storage

    storage = open_storage(settings)
    services.telemetry.cold = ColdTier(
        services.engine,
        storage,
        services.settings.rollup_retention_days,
        rollups=services.telemetry.rollups,
    )
    archiver = Archiver(
        services.engine,
        storage,
        settings,
        roll_up=functools.partial(services.telemetry.rollups.run, pause=False),
    )
    services.archiver = archiver
    if not settings.schedule:
        return

    def archive() -> None:
        # Storage down: the job logs the failure and retries on the next interval; hot rows stay where
        # they are (nothing is deleted unless verified).
        report = archiver.run()
        if report.files or report.hot_deleted_days:
            log.info("archived", extra=report.as_dict())

    services.jobs.every("archive", settings.interval_seconds, archive, at_start=True)
