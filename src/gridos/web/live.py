"""`GET /api/v1/live`: one Server-Sent Events stream per open console carrying everything that changes.

Events: `hello` (catalogue and settings the page needs), `latest` (latest values that changed: rows of
[device_id, measurement, value, ts, received_at, quality]), `status` (the per-site summary of
/api/v1/scada/status), `transition` and `flood` (relayed from the alarm broadcaster), `overflow` (this
client fell behind: reload). A comment line every HEARTBEAT_SECONDS lets the page tell a silent server from
a quiet one.

One `LiveFeed` per process polls `latest_samples` (by received_at, every POLL_SECONDS; a full read of that
small table, one row per series) and computes the status for all its
subscribers at once, and only while someone is subscribed: twenty consoles cost the database what one does,
and an idle console costs one long-lived request instead of a poll every few seconds.

Each `latest` event carries `id: <alarm event id>.<received_at cursor in µs>`; a client that reconnects
with Last-Event-ID gets the alarm transitions after the first part and the values received after the
second (less a margin for commits that became visible late), so nothing changed while it was away is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine, func, select

from gridos.alarms.service import AlarmService
from gridos.clock import iso_fixed, now_us
from gridos.config import Settings
from gridos.db.tables import latest_samples
from gridos.telemetry.samples import Quality
from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.web.live")
# Values refresh every 2 s (alarm transitions are relayed at once, not on this cadence): a control-room
# display's usual refresh, and half the cost of 1 s for every open console.
POLL_SECONDS = 2.0
STATUS_SECONDS = 5.0
HEARTBEAT_SECONDS = 2.0
# Values committed by another replica (or a slow transaction) become visible after newer ones: re-read a
# margin behind the cursor and send only what changed.
VISIBILITY_MARGIN_US = 5_000_000
CLIENT_QUEUE = 500
RELAY_COALESCE_SECONDS = 0.1
QUALITY = {q.value: q.name for q in Quality}

Message = tuple[bytes, int | None]  # encoded event, alarm event id (transitions only)


def encode(event: str, data: Any, event_id: str | None = None) -> bytes:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event}\n".encode() + b"data: " + orjson.dumps(data) + b"\n\n"


class LiveFeed:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        telemetry: TelemetryService,
        alarms: Callable[[], AlarmService | None],
    ) -> None:
        # The objects it reads, not the services container (gridos.services names this class).
        self.settings = settings
        self.engine = engine
        self.telemetry = telemetry
        self.alarms = alarms
        self.clients: set[asyncio.Queue[Message | None]] = set()
        self.wake = asyncio.Event()
        self.cursor_us = 0  # highest received_at seen
        self.alarm_id = 0  # highest alarm event id relayed
        self.sent: dict[tuple[str, str], tuple[int, float, int]] = {}
        self.status: bytes | None = None
        self.polls = 0  # database reads, for tests and the benchmark

    # -- reads (worker threads) ------------------------------------------------------------------------
    def rows_since(self, since_us: int) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        latest_samples.c.device_id,
                        latest_samples.c.measurement,
                        latest_samples.c.value,
                        latest_samples.c.ts,
                        latest_samples.c.received_at,
                        latest_samples.c.quality,
                    ).where(latest_samples.c.received_at > since_us)
                ).all()
            )

    def encode_rows(self, rows: list[Any]) -> list[list[Any]]:
        catalogue = self.telemetry.catalogue
        bools = {name for name, spec in catalogue.items() if spec.kind == "bool"}
        times: dict[int, str] = {}  # a batch shares its timestamps: format each once
        out = []
        for d, m, value, ts, received, quality in rows:
            t = times.get(ts) or times.setdefault(ts, iso_fixed(ts))
            r = times.get(received) or times.setdefault(received, iso_fixed(received))
            out.append([d, m, bool(value) if m in bools else value, t, r, QUALITY.get(quality, "invalid")])
        return out

    def hello(self) -> dict[str, Any]:
        s = self.settings
        catalogue = self.telemetry.catalogue
        return {
            "measurements": {m.name: {"unit": m.unit, "kind": m.kind} for m in catalogue.values()},
            "stale_after_seconds": s.stale_after_seconds,
            "heartbeat_seconds": HEARTBEAT_SECONDS,
            # The page measures ages against the server's clock, not the browser's.
            "server_time": iso_fixed(now_us()),
        }

    def snapshot(self, since_us: int) -> tuple[list[Any], str]:
        """Values received after `since_us`, and the event id that resumes right after them."""
        rows = self.rows_since(since_us)
        cursor = max((r[4] for r in rows), default=since_us)
        alarm_id = self.alarm_id
        if self.alarms() is not None:
            from gridos.alarms.tables import alarm_events

            with self.engine.connect() as conn:
                alarm_id = max(alarm_id, conn.execute(select(func.max(alarm_events.c.id))).scalar() or 0)
        return self.encode_rows(rows), f"{alarm_id}.{max(cursor, 0)}"

    # -- subscribers ------------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue[Message | None]:
        queue: asyncio.Queue[Message | None] = asyncio.Queue(CLIENT_QUEUE)
        self.clients.add(queue)
        self.wake.set()
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Message | None]) -> None:
        self.clients.discard(queue)

    def publish(self, message: Message | None) -> None:
        for queue in list(self.clients):
            if queue.full():
                # A client that does not read is dropped to an `overflow` and reloads, never blocks others.
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait((encode("overflow", {"dropped": 1}), None))
                continue
            queue.put_nowait(message)

    def event_id(self) -> str:
        return f"{self.alarm_id}.{self.cursor_us}"

    # -- the producer (one task per process) ------------------------------------------------------------
    async def run(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            if not self.clients:
                continue
            alarms = self.alarms()
            relay = alarms.broadcaster.subscribe() if alarms is not None else None
            try:
                await self._serve(relay)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # The database is down, most likely: readiness says so; the consoles grey their values
                # by age. One line per retry, not a traceback.
                log.warning("live feed failed; retrying", extra={"error": str(exc)[:200]})
                await asyncio.sleep(POLL_SECONDS)
                self.wake.set()
            finally:
                if relay is not None and alarms is not None:
                    alarms.broadcaster.unsubscribe(relay)

    async def _serve(self, relay: asyncio.Queue[dict[str, Any] | None] | None) -> None:
        next_status = 0.0
        if not self.cursor_us:
            # Start near now: a first subscriber gets its snapshot from `snapshot`, not from the feed.
            self.cursor_us = now_us() - VISIBILITY_MARGIN_US
        while self.clients:
            deadline = time.monotonic() + POLL_SECONDS
            while relay is not None and (left := deadline - time.monotonic()) > 0:
                try:
                    message = await asyncio.wait_for(relay.get(), left)
                except TimeoutError:
                    break
                # A burst of transitions (a flood, a sag across a site) is relayed together after a short
                # pause, so each console gets it in one write.
                burst = [message]
                await asyncio.sleep(RELAY_COALESCE_SECONDS)
                while True:
                    try:
                        burst.append(relay.get_nowait())
                    except asyncio.QueueEmpty:
                        break
                for item in burst:
                    if item is None:
                        self.publish(None)
                        return
                    event_id = item["data"].get("id") if item["event"] == "transition" else None
                    if event_id is not None:
                        self.alarm_id = max(self.alarm_id, int(event_id))
                    self.publish((encode(item["event"], item["data"]), event_id))
            if relay is None:
                await asyncio.sleep(POLL_SECONDS)
            await self._poll()
            if time.monotonic() >= next_status:
                next_status = time.monotonic() + STATUS_SECONDS
                status = await run_in_threadpool(self.telemetry.status)
                self.status = encode("status", status)
                self.publish((self.status, None))

    async def _poll(self) -> None:
        self.polls += 1
        rows = await run_in_threadpool(self.rows_since, self.cursor_us - VISIBILITY_MARGIN_US)
        changed = []
        for row in rows:
            key = (row[0], row[1])
            mark = (row[3], row[2], row[5])
            if self.sent.get(key) != mark:
                self.sent[key] = mark
                changed.append(row)
            self.cursor_us = max(self.cursor_us, row[4])
        if changed:
            data = {"items": self.encode_rows(changed)}
            self.publish((encode("latest", data, self.event_id()), None))
