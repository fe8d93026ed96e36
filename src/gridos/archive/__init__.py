"""GridOS cold tier: closed days as Parquet on a local directory or Azure Blob Storage / ADLS Gen2.

`install(app)` (when GRIDOS_ARCHIVE_LOCATION is set) lets the history API read archived days and runs
the archiver on a schedule; `gridos archive|export|backup|restore` are in gridos.archive.cli.
See docs/archive.md.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gridos.archive.config import ArchiveSettings

log = logging.getLogger("gridos.archive")

__all__ = ["install"]


def install(app: FastAPI, settings: ArchiveSettings | None = None) -> None:
    from gridos.archive.config import ArchiveSettings

    settings = settings or ArchiveSettings()
    app.state.archive_settings = settings
    if not settings.enabled:
        return
    retention = app.state.settings.retention_days
    if settings.after_days >= retention:
        # Retention drops hot partitions after GRIDOS_RETENTION_DAYS whether archived or not: a day must be
        # archivable well before that, or it would be lost.
        raise ValueError(
            f"GRIDOS_ARCHIVE_AFTER_DAYS ({settings.after_days}) must be less than GRIDOS_RETENTION_DAYS "
            f"({retention})"
        )
    # Imported only when the cold tier is on: without it no process pays for pyarrow, DuckDB or Azure.
    from fastapi.concurrency import run_in_threadpool

    from gridos.archive.archiver import Archiver
    from gridos.archive.query import ColdTier
    from gridos.archive.storage import open_storage

    storage = open_storage(settings)
    telemetry = app.state.telemetry
    telemetry.cold = ColdTier(app.state.engine, storage, app.state.settings.rollup_retention_days)
    archiver = Archiver(app.state.engine, storage, settings)
    app.state.archiver = archiver
    if not settings.schedule:
        return
    tasks: list[asyncio.Task] = []

    async def archive_every() -> None:
        while True:
            try:
                report = await run_in_threadpool(archiver.run)
                if report.files or report.hot_deleted_days:
                    log.info("archived", extra=report.as_dict())
            except asyncio.CancelledError:
                raise
            except Exception:
                # Storage down: hot rows stay where they are (nothing is deleted unless verified).
                log.exception("archiving failed; retrying on the next interval")
            await asyncio.sleep(settings.interval_seconds)

    async def start(app: FastAPI) -> None:
        tasks.append(asyncio.create_task(archive_every(), name="archive"))

    async def stop(app: FastAPI) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
