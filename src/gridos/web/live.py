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
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from sqlalchemy import func, select

from gridos import deps
from gridos.alarms.service import AlarmService
from gridos.clock import iso_fixed, now_us
from gridos.db.tables import latest_samples
from gridos.http import api_router
from gridos.security import READ, require
from gridos.services import Services
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
    def __init__(self, services: Services) -> None:
        self.services = services
        self.clients: set[asyncio.Queue[Message | None]] = set()
        self.wake = asyncio.Event()
        self.cursor_us = 0  # highest received_at seen
        self.alarm_id = 0  # highest alarm event id relayed
        self.sent: dict[tuple[str, str], tuple[int, float, int]] = {}
        self.status: bytes | None = None
        self.polls = 0  # database reads, for tests and the benchmark

    # -- reads (worker threads) ------------------------------------------------------------------------
    def rows_since(self, since_us: int) -> list[Any]:
        with self.services.engine.connect() as conn:
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
        catalogue = self.services.telemetry.catalogue
        bools = {name for name, spec in catalogue.items() if spec.kind == "bool"}
        times: dict[int, str] = {}  # a batch shares its timestamps: format each once
        out = []
        for d, m, value, ts, received, quality in rows:
            t = times.get(ts) or times.setdefault(ts, iso_fixed(ts))
            r = times.get(received) or times.setdefault(received, iso_fixed(received))
            out.append([d, m, bool(value) if m in bools else value, t, r, QUALITY.get(quality, "invalid")])
        return out

    def hello(self) -> dict[str, Any]:
        s = self.services.settings
        catalogue = self.services.telemetry.catalogue
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
        if self.services.alarms is not None:
            from gridos.alarms.tables import alarm_events

            with self.services.engine.connect() as conn:
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
            alarms = self.services.alarms
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
                status = await run_in_threadpool(self.services.telemetry.status)
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


def _parse_last_event_id(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    alarm, _, cursor = raw.partition(".")
    if not (alarm.isdigit() and cursor.isdigit()):
        return None
    return int(alarm), int(cursor)


router = api_router("/api/v1", ["operator console"])


@router.get(
    "/live",
    dependencies=[Depends(require(READ))],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def live_feed(
    feed: Annotated[LiveFeed, Depends(deps.live)],
    alarms: Annotated[AlarmService | None, Depends(deps.optional_alarms)],
    telemetry: Annotated[TelemetryService, Depends(deps.telemetry)],
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    """Everything an operator console shows live, pushed (see gridos.web.live): `hello`, `status`,
    `latest` (resumable with Last-Event-ID), `transition`, `flood`, `overflow`."""
    resume = _parse_last_event_id(last_event_id)
    queue = feed.subscribe()

    async def events() -> AsyncIterator[bytes]:
        try:
            yield b"retry: 2000\n: connected\n\n"
            yield encode("hello", feed.hello())
            since = resume[1] - VISIBILITY_MARGIN_US if resume else 0
            items, current = await run_in_threadpool(feed.snapshot, since)
            yield encode("latest", {"items": items, "snapshot": resume is None}, current)
            last_alarm = resume[0] if resume else int(current.partition(".")[0])
            if resume and alarms is not None:
                for event in await run_in_threadpool(alarms.events_after, resume[0]):
                    last_alarm = max(last_alarm, event["id"])
                    yield encode("transition", event)
            status = feed.status or encode("status", await run_in_threadpool(telemetry.status))
            yield status
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield b": heartbeat\n\n"
                    continue
                # Whatever else is already queued goes out in the same write: one socket send per burst,
                # not per event, is what keeps twenty consoles cheap.
                batch = [message]
                while len(batch) < 256:
                    try:
                        batch.append(queue.get_nowait())
                    except asyncio.QueueEmpty:
                        break
                chunks: list[bytes] = []
                for item in batch:
                    if item is None:
                        if chunks:
                            yield b"".join(chunks)
                        return
                    data, alarm_id = item
                    if alarm_id is not None:
                        if alarm_id <= last_alarm:
                            continue
                        last_alarm = alarm_id
                    chunks.append(data)
                if chunks:
                    yield b"".join(chunks)
        finally:
            feed.unsubscribe(queue)

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def install(app: FastAPI, services: Services) -> LiveFeed:
    feed = LiveFeed(services)
    services.live = feed
    services.jobs.task("live-feed", feed.run)

    async def stop(app: FastAPI) -> None:
        feed.publish(None)  # every open stream ends; the feed's task is cancelled with the other jobs

    services.shutdown_hooks.append(stop)
    app.include_router(router)
    return feed
