"""Fan-out of alarm transitions to Server-Sent Events subscribers of this process.

Transitions are committed on worker threads; each subscriber is an asyncio.Queue on the event loop, fed
with call_soon_threadsafe. A subscriber that does not keep up loses its oldest entries, never blocks the
publisher, and is told so (an `overflow` event) so a display can reload the list.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from typing import Any

QUEUE_SIZE = 1000


class TransitionBroadcaster:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._lock = threading.Lock()
        # Event ids already published: each transition reaches a subscriber once, whether it was committed
        # here or picked up from another replica by the sync loop.
        self._seen: OrderedDict[int, None] = OrderedDict()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_SIZE)
        with self._lock:
            self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        with self._lock:
            self._subscribers.discard(queue)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def seen(self, event_id: int) -> bool:
        with self._lock:
            return event_id in self._seen

    def publish(self, message: dict[str, Any], event_id: int | None = None) -> None:
        """Thread-safe; returns at once."""
        with self._lock:
            if event_id is not None:
                if event_id in self._seen:
                    return
                self._seen[event_id] = None
                while len(self._seen) > 50_000:
                    self._seen.popitem(last=False)
            queues = list(self._subscribers)
        if self._loop is None or not queues or self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._deliver, queues, message)

    def close(self) -> None:
        """Ends every stream (shutdown)."""
        with self._lock:
            queues = list(self._subscribers)
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._deliver, queues, None)

    @staticmethod
    def _deliver(queues: list[asyncio.Queue[dict[str, Any] | None]], message: dict[str, Any] | None) -> None:
        for queue in queues:
            if queue.full():
                queue.get_nowait()
                if message is not None:
                    queue.put_nowait({"event": "overflow", "data": {"dropped": 1}})
                    if queue.full():
                        queue.get_nowait()
            queue.put_nowait(message)
