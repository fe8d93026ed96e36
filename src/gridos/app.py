"""The FastAPI application factory, the composition root: from one Settings it builds every service once,
keeps them in one typed container (gridos.services, on app.state.services) and hands each feature what
it needs."""

from __future__ import annotations

import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from gridos import __version__, alarms, archive, identity, ingest, web
from gridos.background import Jobs
from gridos.config import Settings
from gridos.db.engine import make_engine, pool_stats
from gridos.db.migrate import upgrade
from gridos.devices.service import DeviceRegistry
from gridos.devices.views import router as devices_router
from gridos.health.service import HealthChecker
from gridos.health.views import authenticated
from gridos.health.views import router as health_router
from gridos.http import EdgeMiddleware, install_error_handlers
from gridos.identity.openapi import PROBLEM_SCHEMA
from gridos.observability.metrics import Metrics
from gridos.observability.tracing import setup_tracing
from gridos.services import Services
from gridos.telemetry.lineprotocol_views import router as lineprotocol_router
from gridos.telemetry.service import TelemetryService
from gridos.telemetry.views import router as telemetry_router

log = logging.getLogger("gridos.app")
GAUGE_REFRESH_SECONDS = 10.0


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings`. Without them (a uvicorn worker process of `gridos serve --workers N`) they
    are read from the environment here, once."""
    settings = settings or Settings()
    # Process-wide, so set where every worker process starts (docs/benchmarks.md: alarm latency).
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    settings.token_roles  # noqa: B018 - fail at start-up, not on the first request, if tokens are malformed
    engine = make_engine(settings)
    metrics = Metrics(__version__, settings.build_revision)
    registry = DeviceRegistry(engine)
    telemetry = TelemetryService(settings, engine, registry, metrics)
    services = Services(
        settings=settings,
        engine=engine,
        metrics=metrics,
        registry=registry,
        telemetry=telemetry,
        health=HealthChecker(engine),
        jobs=Jobs(),
    )
    services.jobs.every(
        "maintenance", settings.maintenance_interval_seconds, lambda: _maintain(services), at_start=True
    )
    services.jobs.every("rollups", settings.rollup_interval_seconds, telemetry.rollups.run)
    services.jobs.every("gauges", GAUGE_REFRESH_SECONDS, lambda: _refresh_gauges(services), at_start=True)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Sync endpoints run in worker threads, each holding a pooled connection while it works. More
        # threads than pooled connections only queue on the pool (and every connection beyond the pool
        # size is opened and closed per request): under 128 connections that halved throughput. So the
        # thread pool is the connection pool's size (docs/benchmarks.md, read API under load).
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        if settings.migrate_on_start:
            await run_in_threadpool(upgrade, engine)
        services.jobs.start()
        for hook in services.startup_hooks:
            await hook(app)
        # Everything built so far lives as long as the process: keep it out of every GC pass, which
        # matters on the ingest path that allocates millions of short-lived tuples.
        gc.freeze()
        try:
            yield
        finally:
            for hook in reversed(services.shutdown_hooks):
                await hook(app)
            await services.jobs.stop()
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
    app.state.services = services  # the only attribute: read through gridos.deps

    install_error_handlers(app)
    app.add_middleware(EdgeMiddleware, metrics=metrics)
    app.include_router(health_router)
    app.include_router(telemetry_router)
    app.include_router(lineprotocol_router)
    app.include_router(devices_router)
    # Features that build on the core attach themselves here (routers, sample observers, hooks, jobs).
    alarms.install(app, services)
    ingest.install(app, services)
    identity.install(app, services)
    web.install(app, services)
    archive.install(app, services)

    setup_tracing(app, settings, services.shutdown_hooks)
    _document_ingest_body(app, telemetry)

    anonymous_view = metrics.without_sites()

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics(request: Request) -> Response:
        """Service metrics for anyone who can reach the port; the per-site series (site names, device
        counts, voltage envelopes) only for a caller with a valid API credential (docs/contract.md)."""
        stats = pool_stats(engine)
        metrics.db_pool_size.set(stats["size"])
        metrics.db_pool_checked_out.set(stats["checked_out"])
        metrics.db_pool_overflow.set(stats["overflow"])
        source = metrics.registry if authenticated(request) else anonymous_view
        return Response(generate_latest(source), media_type=CONTENT_TYPE_LATEST)

    return app


def _maintain(services: Services) -> None:
    s = services.settings
    result = services.telemetry.store.maintain(
        datetime.now(UTC), s.retention_days, s.rollup_retention_days, s.partitions_ahead_days
    )
    if result["dropped_partitions"]:
        log.info("retention dropped partitions", extra=result)


def _refresh_gauges(services: Services) -> None:
    metrics = services.metrics
    db = services.health.database()
    metrics.db_up.set(1 if db["status"] == "healthy" else 0)
    if db["status"] != "healthy":
        return
    status = services.telemetry.status()
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


def _document_ingest_body(app: FastAPI, telemetry: TelemetryService) -> None:
    """The ingest route reads its body itself (one object, an array or NDJSON, parsed off the event loop),
    so FastAPI cannot describe it: add the SampleIn schema, built from the same catalogue-derived model
    that validates the body, to the generated components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        model_schema = telemetry.sample_model.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(model_schema.pop("$defs", {}))
        components["SampleIn"] = model_schema
        _document_problems(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _document_problems(schema: dict[str, Any]) -> None:
    """Every error of the API is application/problem+json (gridos.http): say so in the contract, instead
    of FastAPI's default 422 body that this API never sends."""
    schema["components"]["schemas"]["Problem"] = PROBLEM_SCHEMA
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    content = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            if operation.get("x-error-format"):  # documents its own error shapes (e.g. InfluxDB's)
                continue
            responses = operation.setdefault("responses", {})
            if "HTTPValidationError" in str(responses.get("422")):  # FastAPI's default, not what we send
                responses.pop("422")
            if "/health" in path:
                # Probes answer JSON with the failing check, never a problem document.
                responses["503"] = {
                    "description": "not ready / unhealthy",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
                continue
            if path.startswith("/api/"):
                responses["4XX"] = {"description": "Refused: see the problem's detail", "content": content}
            responses["5XX"] = {"description": "Server or dependency failure", "content": content}
