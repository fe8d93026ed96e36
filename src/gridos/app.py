"""The FastAPI application factory: builds every service once and hangs it on app.state."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gridos import __version__, alarms, archive, identity, ingest, web
from gridos.config import Settings
from gridos.db.engine import make_engine, pool_stats
from gridos.db.migrate import upgrade
from gridos.devices.service import DeviceRegistry
from gridos.devices.views import router as devices_router
from gridos.health.service import HealthChecker
from gridos.health.views import router as health_router
from gridos.http import EdgeMiddleware, install_error_handlers
from gridos.observability.metrics import Metrics
from gridos.observability.tracing import setup_tracing
from gridos.telemetry.lineprotocol_views import router as lineprotocol_router
from gridos.telemetry.service import TelemetryService
from gridos.telemetry.views import router as telemetry_router

log = logging.getLogger("gridos.app")
GAUGE_REFRESH_SECONDS = 10.0


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    settings.token_roles  # noqa: B018 - fail at start-up, not on the first request, if tokens are malformed
    engine = make_engine(settings)
    metrics = Metrics(__version__, settings.build_revision)
    registry = DeviceRegistry(engine)
    telemetry = TelemetryService(settings, engine, registry, metrics)
    health = HealthChecker(engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade, engine)
        tasks = [
            asyncio.create_task(
                _every(settings.maintenance_interval_seconds, _maintain, app), name="maintenance"
            ),
            asyncio.create_task(_every(GAUGE_REFRESH_SECONDS, _refresh_gauges, app), name="gauges"),
        ]
        for hook in app.state.startup_hooks:
            await hook(app)
        # Everything built so far lives as long as the process: keep it out of every GC pass, which
        # matters on the ingest path that allocates millions of short-lived tuples.
        gc.freeze()
        try:
            yield
        finally:
            for hook in reversed(app.state.shutdown_hooks):
                await hook(app)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            engine.dispose()

    app = FastAPI(
        title="GridOS",
        version=__version__,
        description="SCADA telemetry historian, alarms and operator API for electrical grids.",
        lifespan=lifespan,
        # Served by gridos.web from the package: FastAPI's defaults load Swagger UI and ReDoc from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.registry = registry
    app.state.telemetry = telemetry
    app.state.health = health
    # Later features (alarms, connectors) register start/stop coroutines here.
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []

    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, metrics=metrics)
    app.include_router(health_router)
    app.include_router(telemetry_router)
    app.include_router(lineprotocol_router)
    app.include_router(devices_router)
    # Features that build on the core attach themselves here (routers, sample observers, hooks).
    alarms.install(app)
    ingest.install(app)
    identity.install(app)
    web.install(app)
    archive.install(app)

    setup_tracing(app, settings)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        stats = pool_stats(engine)
        metrics.db_pool_size.set(stats["size"])
        metrics.db_pool_checked_out.set(stats["checked_out"])
        metrics.db_pool_overflow.set(stats["overflow"])
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


async def _every(seconds: float, fn: Any, app: FastAPI) -> None:
    while True:
        try:
            await fn(app)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("background task failed", extra={"task": getattr(fn, "__name__", "?")})
        await asyncio.sleep(seconds)


async def _maintain(app: FastAPI) -> None:
    s: Settings = app.state.settings
    result = await run_in_threadpool(
        app.state.telemetry.store.maintain,
        datetime.now(UTC),
        s.retention_days,
        s.rollup_retention_days,
        s.partitions_ahead_days,
    )
    if result["dropped_partitions"]:
        log.info("retention dropped partitions", extra=result)


async def _refresh_gauges(app: FastAPI) -> None:
    metrics: Metrics = app.state.metrics
    db = await run_in_threadpool(app.state.health.database)
    metrics.db_up.set(1 if db["status"] == "healthy" else 0)
    if db["status"] != "healthy":
        return
    status = await run_in_threadpool(app.state.telemetry.status)
    metrics.devices.clear()
    metrics.site_measurement.clear()
    for site in status["sites"]:
        for state in ("reporting", "stale", "never_reported"):
            metrics.devices.labels(site=site["site"], state=state).set(site[state])
        for measurement, key in (("voltage", "voltage_pu"), ("frequency", "frequency_hz")):
            envelope = site[key]
            if envelope:
                for stat, value in envelope.items():
                    metrics.site_measurement.labels(
                        site=site["site"], measurement=measurement, stat=stat
                    ).set(value)
