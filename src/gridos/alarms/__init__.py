"""GridOS alarms: ISA-18.2 lifecycle, limits from rules or nominal ratings, audit, notifications.

`install(app)` builds the AlarmService on app.state.alarms, registers it as an observer of committed
samples, adds the routes, and starts the background loops on start-up (see docs/alarms.md).

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
  `views`: the routes; `events`: boolean state changes read from samples.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from gridos.alarms.config import AlarmSettings
from gridos.alarms.outbox import OutboxWorker
from gridos.alarms.rules import load_rules_file
from gridos.alarms.service import AlarmService

log = logging.getLogger("gridos.alarms")

__all__ = ["AlarmService", "AlarmSettings", "install"]


def install(app: FastAPI, settings: AlarmSettings | None = None) -> AlarmService:
    """Attach this feature to the app: routers, observers of committed samples, start/stop hooks."""
    from gridos.alarms.views import router, rules_router

    settings = settings or AlarmSettings()
    telemetry = app.state.telemetry
    service = AlarmService(settings, app.state.engine, app.state.metrics, telemetry)
    app.state.alarms = service
    app.state.alarm_settings = settings
    telemetry.observers.append(service.observe)
    app.include_router(router)
    app.include_router(rules_router)
    # A bad rules file stops the app factory (and `gridos serve`, with one line); an unreachable database
    # does not stop start-up (readiness says so, and the state is loaded when it answers).
    rules = load_rules_file(settings.rules_file, set(telemetry.catalogue)) if settings.rules_file else None
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def loop(name: str, seconds: float, fn: Callable[[], object]) -> threading.Thread:
        def run() -> None:
            while not stop.wait(seconds):
                try:
                    fn()
                except Exception:
                    log.exception("alarm background task failed", extra={"task": name})

        return threading.Thread(target=run, name=f"alarms-{name}", daemon=True)

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

            def retry() -> None:
                while not stop.wait(2.0) and not bootstrap():
                    pass

            threads.append(threading.Thread(target=retry, name="alarms-bootstrap", daemon=True))
        sync = (
            threading.Thread(target=service.listen, args=(stop,), name="alarms-listen", daemon=True)
            if service.postgres
            else loop("sync", settings.sync_seconds, service.sync)
        )
        threads[len(threads) :] = [
            sync,
            loop("supervise", settings.supervise_seconds, _supervise(service)),
            loop("comm", settings.comm_check_seconds, service.check_staleness),
            loop("devices", settings.device_refresh_seconds, service.reload_devices),
        ]
        if service.sinks:
            worker = OutboxWorker(settings, app.state.engine, app.state.metrics, service.outbox_wakeup)
            threads.append(
                threading.Thread(target=worker.run, args=(stop,), name="alarms-outbox", daemon=True)
            )
        for thread in threads:
            thread.start()

    async def shutdown(app: FastAPI) -> None:
        stop.set()
        service.outbox_wakeup.set()
        service.broadcaster.close()
        for thread in threads:
            await run_in_threadpool(thread.join, 10)

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(shutdown)
    return service


def _supervise(service: AlarmService) -> Callable[[], None]:
    def run() -> None:
        service.supervise()
        service.flood_status()
        service.refresh_gauges()

    return run
