"""The route of the console's live stream, `GET /api/v1/live` (the feed itself is gridos.web.live), and
the feature's install."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, FastAPI, Header
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from gridos import deps
from gridos.alarms.service import AlarmService
from gridos.http import api_router
from gridos.security import READ, require
from gridos.telemetry.service import TelemetryService
from gridos.web.live import HEARTBEAT_SECONDS, VISIBILITY_MARGIN_US, LiveFeed, encode

if TYPE_CHECKING:
    from gridos.services import Services


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
    feed = LiveFeed(services.settings, services.engine, services.telemetry, lambda: services.alarms)
    services.live = feed
    services.jobs.task("live-feed", feed.run)

    async def stop(app: FastAPI) -> None:
        feed.publish(None)  # every open stream ends; the feed's task is cancelled with the other jobs

    services.shutdown_hooks.append(stop)
    app.include_router(router)
    return feed
