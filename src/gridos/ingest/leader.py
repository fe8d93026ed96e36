"""One poller among replicas: a session-level PostgreSQL advisory lock held on a dedicated connection.

Every replica runs a ModbusPoller; only the holder of the lock polls, the others stand by and try again
every few seconds. The lock lives as long as its connection: a crashed or partitioned leader loses it when
PostgreSQL drops the connection, and a standby takes over. SQLite means one process: always the leader.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import Engine

from gridos.db import locks

log = logging.getLogger("gridos.ingest.leader")


class LeaderLock:
    def __init__(self, engine: Engine, key: int = locks.MODBUS_POLLING) -> None:
        self.key = key
        self.postgres = engine.dialect.name == "postgresql"
        self._conninfo = (
            engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            if self.postgres
            else ""
        )
        self._conn: psycopg.Connection | None = None
        self._lock = threading.Lock()
        self.held = not self.postgres

    def check(self) -> bool:
        """Keep or try to take the lock; True while this process is the leader. Never raises."""
        if not self.postgres:
            return True
        with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self.held = False
                    self._conn = psycopg.connect(
                        self._conninfo, autocommit=True, connect_timeout=5, application_name="gridos-leader"
                    )
                if self.held:
                    self._conn.execute("SELECT 1")  # still connected: still holding the lock
                else:
                    row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                    self.held = bool(row and row[0])
                    if self.held:
                        log.info("took the modbus polling lock", extra={"key": self.key})
            except psycopg.Error as exc:
                if self.held:
                    log.warning(
                        "lost the modbus polling lock", extra={"error": str(exc).splitlines()[0][:200]}
                    )
                self.held = False
                self._close()
            return self.held

    def follow(
        self,
        active: threading.Event,
        stop: threading.Event,
        every_s: float,
        refresh: Callable[[], None],
        lost: Callable[[], None] = lambda: None,
    ) -> None:
        """Until `stop`: keep `active` set while this process holds the lock, checking every `every_s`.
        `lost` runs when another replica has taken over, `refresh` after every check."""
        while not stop.is_set():
            if self.check():
                active.set()
            elif active.is_set():
                active.clear()
                lost()
            refresh()
            stop.wait(every_s)

    def release(self) -> None:
        with self._lock:
            self._close()
            self.held = not self.postgres

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()  # closing the session releases its advisory locks
            self._conn = None
