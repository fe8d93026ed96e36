"""Background work of the service, in one place: periodic jobs and long-running loops, started with the
app and stopped before its engine is disposed. Their error logging and their stop live here.

Blocking work (the database, storage) runs in threads of its own: never on the event loop, and never in
the request thread pool, which is sized to the connection pool (gridos.app). Coroutines that belong on the
event loop (the live feed) run as tasks and are cancelled at stop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi.concurrency import run_in_threadpool

log = logging.getLogger("gridos.background")
JOIN_SECONDS = 10.0


@dataclass(frozen=True)
class _Job:
    name: str
    thread: Callable[[threading.Event], object] | None = None
    task: Callable[[], Awaitable[None]] | None = None
    on_stop: Callable[[], object] | None = None


class Jobs:
    """Jobs added before start run for every start of the app; jobs added while it runs (by a start-up
    hook) run until the next stop."""

    def __init__(self) -> None:
        self._jobs: list[_Job] = []
        self._transient: list[_Job] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False

    def every(self, name: str, seconds: float, fn: Callable[[], object], *, at_start: bool = False) -> None:
        """Run the blocking `fn` every `seconds` (the first run at once with `at_start`, else after one
        interval) until stop. A failure is logged with the job's name and the next run goes ahead."""

        def run(stop: threading.Event) -> None:
            if at_start:
                _run_once(name, fn)
            while not stop.wait(seconds):
                _run_once(name, fn)

        self.thread(name, run)

    def thread(
        self,
        name: str,
        target: Callable[[threading.Event], object],
        *,
        on_stop: Callable[[], object] | None = None,
    ) -> None:
        """A blocking loop that returns once the event it is given is set (LISTEN, the outbox worker).
        `on_stop` wakes it if it waits on something else."""
        self._add(_Job(name, thread=target, on_stop=on_stop))

    def task(self, name: str, coroutine: Callable[[], Awaitable[None]]) -> None:
        """A coroutine on the event loop, cancelled at stop."""
        self._add(_Job(name, task=coroutine))

    def _add(self, job: _Job) -> None:
        if self._running:
            self._transient.append(job)
            self._launch(job)
        else:
            self._jobs.append(job)

    def start(self) -> None:
        self._stop = threading.Event()
        self._running = True
        for job in self._jobs:
            self._launch(job)

    def _launch(self, job: _Job) -> None:
        if job.thread is not None:
            thread = threading.Thread(target=job.thread, args=(self._stop,), name=job.name, daemon=True)
            self._threads.append(thread)
            thread.start()
        elif job.task is not None:
            self._tasks.append(asyncio.create_task(_logged(job.name, job.task), name=job.name))

    async def stop(self) -> None:
        self._running = False
        self._stop.set()
        for job in (*self._jobs, *self._transient):
            if job.on_stop is not None:
                job.on_stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for thread in self._threads:
            await run_in_threadpool(thread.join, JOIN_SECONDS)
        self._tasks, self._threads, self._transient = [], [], []


def _run_once(name: str, fn: Callable[[], object]) -> None:
    try:
        fn()
    except Exception:
        log.exception("background job failed", extra={"job": name})


async def _logged(name: str, coroutine: Callable[[], Awaitable[None]]) -> None:
    try:
        await coroutine()
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("background job failed", extra={"job": name})
