"""GridOS alarms: ISA-18.2 lifecycle, limits from rules or nominal ratings, audit, notifications.

`install(app, services)` builds the AlarmService (services.alarms) from `settings.alarms`, registers it as
an observer of committed samples, adds the routes, and starts its background jobs on start-up (see
docs/alarms.md).

Which module holds what (each imports only those above it, plus model, rules, tables and config):
- `model`: the pure state machine (records, transitions, limits); `rules`: rule shapes, the defaults from
  ratings, the YAML file; `tables`: the SQL tables; `config`: AlarmSettings; `stream`: the SSE broadcaster.
- `repository`: rows <-> records and the SQL the other modules share.
- `cache`: the in-memory filter every replica keeps (alarm points, devices, rules) and the effective limits.
- `notifications`: sinks, payloads, and the outbox rows written with each transition.
- `unit_of_work`: the one way state changes: lock the series, load, change, commit state + journal + outbox.
- `evaluator`: the ingest hot path (a telemetry BatchObserver); `actions`: operator actions and the
  connectors' comm-failure interface; `jobs`: supervision, staleness, flood, gauges; `replication`: other
  replicas' changes (LISTEN/NOTIFY); `rule_admin`: rule CRUD with audit; `queries`: the read API.
- `service`: AlarmService, the facade over all of them; `outbox`: the worker that delivers notifications;
  `views`: the routes; `events`: describes the boolean state changes telemetry finds in samples.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gridos.alarms.service import AlarmService
    from gridos.services import Services

log = logging.getLogger("gridos.alarms")

__all__ = ["install"]


def install(app: FastAPI, services: Services) -> AlarmService:
    """Attach this feature to the app: routers, observers of committed samples, start/stop hooks."""
    # Imported here: gridos.config composes AlarmSettings from this package; the service is not needed
    # for that.
    from fastapi.concurrency import run_in_threadpool

    from gridos.alarms.outbox import OutboxWorker
    from gridos.alarms.rules import load_rules_file
    from gridos.alarms.service import AlarmService
    from gridos.alarms.views import router, rules_router

    settings = services.settings.alarms
    telemetry = services.telemetry
    jobs = services.jobs
    service = AlarmService(settings, services.engine, services.metrics, telemetry)
    services.alarms = service
    if service.postgres:
        telemetry.transaction_observers.append(service.evaluator.observe_within)
    else:
        telemetry.observers.append(service.observe)
    app.include_router(router)
    app.include_router(rules_router)
    # A bad rules file stops the app factory (and `gridos serve`, with one line); an unreachable database
    # does not stop start-up (readiness says so, and the state is loaded when it answers).
    rules = load_rules_file(settings.rules_file, set(telemetry.catalogue)) if settings.rules_file else None

    async def start(app: FastAPI) -> None:
        service.broadcaster.bind(asyncio.get_running_loop())
        if not settings.enabled:
            log.warning("alarms are disabled (GRIDOS_ALARMS_ENABLED=false): nothing is evaluated")
            return

        def bootstrap() -> bool:
            try:
                service.load()
                if rules is not None and settings.rules_file is not None:
                    counts = service.load_rules(rules, f"file:{settings.rules_file.name}")
                    log.info("alarm rules loaded", extra={"file": str(settings.rules_file), **counts})
                return True
            except Exception as exc:
                log.warning("alarm state not loaded yet; retrying", extra={"error": str(exc)[:200]})
                return False

        if not await run_in_threadpool(bootstrap):

            def retry(stop: threading.Event) -> None:
                while not stop.wait(2.0) and not bootstrap():
                    pass

            jobs.thread("alarms-bootstrap", retry)
        if service.postgres:
            jobs.thread("alarms-listen", service.listen)
        else:
            jobs.every("alarms-sync", settings.sync_seconds, service.sync)
        jobs.every("alarms-supervise", settings.supervise_seconds, _supervise(service))
        jobs.every("alarms-comm", settings.comm_check_seconds, service.check_staleness)
        jobs.every("alarms-devices", settings.device_refresh_seconds, service.reload_devices)
        if service.sinks:
            worker = OutboxWorker(settings, services.engine, services.metrics, service.outbox_wakeup)
            jobs.thread("alarms-outbox", worker.run, on_stop=service.outbox_wakeup.set)

    async def shutdown(app: FastAPI) -> None:
        service.broadcaster.close()

    services.startup_hooks.append(start)
    services.shutdown_hooks.append(shutdown)
    return service


def _supervise(service: AlarmService) -> Callable[[], None]:
    def run() -> None:
        service.supervise()
        service.flood_status()
        service.refresh_gauges()

    return run
