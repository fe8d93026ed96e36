"""`AlarmService`: the one object the app, the views and the field connectors hold; a facade that builds
the parts of the alarm system (see the package docstring for which module holds what) and exposes
their operations under one name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from gridos.alarms.actions import Actions
from gridos.alarms.cache import AlarmCache
from gridos.alarms.config import AlarmSettings
from gridos.alarms.evaluator import Evaluator
from gridos.alarms.jobs import Jobs
from gridos.alarms.model import US, Chatter
from gridos.alarms.notifications import Notifier
from gridos.alarms.queries import Queries
from gridos.alarms.replication import Replication
from gridos.alarms.rule_admin import RuleAdmin
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.unit_of_work import UnitOfWork
from gridos.clock import now_us
from gridos.observability.metrics import Metrics

if TYPE_CHECKING:
    from gridos.telemetry.service import TelemetryService


class AlarmService:
    """Thread-safe. One per process, on services.alarms (gridos.services)."""

    def __init__(
        self,
        settings: AlarmSettings,
        engine: Engine,
        metrics: Metrics,
        telemetry: TelemetryService,
        broadcaster: TransitionBroadcaster | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.metrics = metrics
        self.postgres = engine.dialect.name == "postgresql"
        self.broadcaster = broadcaster or TransitionBroadcaster()
        self.chatter = Chatter(settings.chatter_threshold, round(settings.chatter_window_seconds * US))
        self.cache = AlarmCache(settings, engine, metrics, set(telemetry.catalogue), telemetry.registry.infos)
        self.measurements = self.cache.measurements
        self.notifier = Notifier(settings)
        self.sinks = self.notifier.sinks
        self.outbox_wakeup = self.notifier.wakeup
        self.uow = UnitOfWork(engine, metrics, self.cache, self.notifier, self.broadcaster)
        self.evaluator = Evaluator(settings, metrics, self.cache, self.uow, self.chatter)
        self.actions = Actions(settings, self.cache, self.uow, self.chatter)
        self.jobs = Jobs(
            settings, metrics, self.cache, self.uow, self.actions, self.chatter, telemetry.last_received
        )
        self.replication = Replication(settings, engine, self.cache, self.broadcaster)
        self.rules = RuleAdmin(engine, self.cache)
        self.queries = Queries(engine, self.jobs.flood_status)

        # The operations, by concern.
        self.reload_devices = self.cache.reload_devices
        self.reload_rules = self.cache.reload_rules
        self.device = self.cache.device
        self.site_of = self.cache.site_of
        self.specs = self.cache.specs
        self.effective = self.cache.effective
        self.observe = self.evaluator.observe  # the telemetry BatchObserver
        self.refresh = self.evaluator.refresh
        self.transact = self.uow.transact
        self.ack = self.actions.ack
        self.shelve = self.actions.shelve
        self.comment = self.actions.comment
        self.unshelve = self.actions.unshelve
        self.set_suppressed = self.actions.set_suppressed
        self.set_out_of_service = self.actions.set_out_of_service
        self.comm_failure = self.actions.comm_failure
        self.comm_restored = self.actions.comm_restored
        self.check_staleness = self.jobs.check_staleness
        self.supervise = self.jobs.supervise
        self.flood_status = self.jobs.flood_status
        self.refresh_gauges = self.jobs.refresh_gauges
        self.sync = self.replication.sync
        self.listen = self.replication.listen
        self.get = self.queries.get
        self.list_active = self.queries.list_active
        self.history = self.queries.history
        self.events_after = self.queries.events_after
        self.list_rules = self.rules.list_rules
        self.get_rule = self.rules.get_rule
        self.create_rule = self.rules.create_rule
        self.update_rule = self.rules.update_rule
        self.delete_rule = self.rules.delete_rule
        self.load_rules = self.rules.load_rules
        self.rule_audit = self.rules.rule_audit

    def load(self) -> None:
        """Rebuild the in-memory view from storage: devices, rules, and every alarm point's state."""
        self.cache.load()
        self.replication.since_us = now_us()

    @property
    def flood(self) -> dict[str, Any]:
        return self.jobs.flood

    @property
    def errors(self) -> int:
        """Evaluations that failed (a batch, or one series of it); also gridos_alarm_evaluation_errors."""
        return self.cache.errors
