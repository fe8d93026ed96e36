"""Replicas: pick up what other replicas committed (alarm state into the cache, their transitions onto
this process's SSE streams, rule changes), on PostgreSQL as soon as they commit (LISTEN/NOTIFY).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from gridos.alarms import repository
from gridos.alarms.cache import AlarmCache
from gridos.alarms.config import AlarmSettings
from gridos.alarms.model import US
from gridos.alarms.repository import event_view, record_from_row
from gridos.alarms.stream import TransitionBroadcaster
from gridos.alarms.tables import alarm_events, alarms
from gridos.alarms.unit_of_work import ORIGIN
from gridos.clock import now_us

log = logging.getLogger("gridos.alarms")


@dataclass(eq=False)
class Replication:
    settings: AlarmSettings
    engine: Engine
    cache: AlarmCache
    broadcaster: TransitionBroadcaster
    since_us: int = field(default=0, init=False)  # what this process has seen; set by the first load

    def sync(self) -> int:
        """Pick up what other replicas committed: alarm state into the cache, transitions onto this
        process's SSE streams, rule changes. Returns the number of transitions published."""
        started = now_us()
        # A transaction stamps updated_us before it commits; the margin covers commits that take longer
        # to become visible than the polling interval.
        since = self.since_us - 5 * US
        with self.engine.connect() as conn:
            rows = conn.execute(select(alarms).where(alarms.c.updated_us > since)).all()
            events = conn.execute(
                select(alarm_events).where(alarm_events.c.at_us > since).order_by(alarm_events.c.id)
            ).all()
            mark = repository.rules_mark(conn)
        with self.cache.lock:
            for row in rows:
                self.cache.keep(record_from_row(row))
        published = 0
        if self.broadcaster.subscribers:
            for row in events:
                if not self.broadcaster.seen(row.id):
                    self.broadcaster.publish({"event": "transition", "data": event_view(row)}, row.id)
                    published += 1
        if mark != self.cache.rules_mark:
            self.cache.reload_rules()
        self.since_us = started
        return published

    def stream(self, events: str) -> None:
        """Put the transitions another replica's notification carries (gridos.alarms.unit_of_work:
        `notify_payload`) on this process's SSE streams before the sync reads them back; the broadcaster
        skips the ones already streamed, and the sync streams any a notification could not carry."""
        if not self.broadcaster.subscribers:
            return
        try:
            decoded = json.loads(events)
        except ValueError:
            log.warning("alarm notification with an unreadable payload; the sync streams its transitions")
            return
        for event in decoded:
            self.broadcaster.publish({"event": "transition", "data": event}, event["id"])

    def listen(self, stop: threading.Event) -> None:
        """PostgreSQL: sync as soon as another replica commits a transition (LISTEN/NOTIFY), and at
        least every sync_seconds. Other backends poll (see gridos.alarms.install)."""
        import psycopg

        dsn = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        # Start-up already loaded the state; leave the first second to the first requests.
        stop.wait(1.0)
        while not stop.is_set():
            try:
                with psycopg.connect(dsn, autocommit=True, application_name="gridos-alarms") as conn:
                    conn.execute("LISTEN gridos_alarms")
                    synced = time.monotonic()
                    while not stop.is_set():
                        other = False
                        for notification in conn.notifies(timeout=self.settings.sync_seconds, stop_after=1):
                            origin, _, events = notification.payload.partition("\n")
                            other = origin != ORIGIN
                            if other and events:
                                self.stream(events)
                        # This process's own commits are in its cache and on its streams already: a sync
                        # for each would only compete with the next sample for the database and the GIL.
                        if other or time.monotonic() - synced >= self.settings.sync_seconds:
                            self.sync()
                            synced = time.monotonic()
            except Exception:
                log.exception("alarm listener failed; reconnecting")
                stop.wait(1.0)
