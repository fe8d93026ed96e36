"""gridos.background.Jobs: a failing run is logged and the job goes on; stop ends every thread and task, and
jobs added by a start-up hook run only until the next stop."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest

from gridos.background import Jobs


def test_a_failing_job_is_logged_and_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[float] = []

    def flaky() -> None:
        runs.append(time.monotonic())
        if len(runs) == 1:
            raise RuntimeError("storage down")

    async def scenario() -> None:
        jobs = Jobs()
        jobs.every("flaky", 0.05, flaky, at_start=True)
        jobs.start()
        deadline = time.monotonic() + 5
        while len(runs) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await jobs.stop()

    with caplog.at_level(logging.ERROR, logger="gridos.background"):
        asyncio.run(scenario())
    assert len(runs) >= 3
    failures = [r for r in caplog.records if r.getMessage() == "background job failed"]
    assert [getattr(r, "job", None) for r in failures] == ["flaky"]
    assert failures[0].exc_info is not None


def test_stop_ends_threads_and_tasks_and_drops_jobs_added_while_running() -> None:
    cancelled = threading.Event()
    woken = threading.Event()
    wake = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    def loop(stop: threading.Event) -> None:
        while not stop.is_set():
            wake.wait(10)  # waits on something else: only on_stop gets it out in time
            if wake.is_set():
                woken.set()
                return

    async def scenario() -> tuple[int, int, bool]:
        jobs = Jobs()
        jobs.task("feed", forever)
        jobs.start()
        jobs.thread("listen", loop, on_stop=wake.set)  # added while running, like an alarms start-up hook
        await asyncio.sleep(0.05)
        started = time.monotonic()
        await jobs.stop()
        assert time.monotonic() - started < 5
        running = sum(t.name in ("listen", "feed") for t in threading.enumerate())
        jobs.start()  # a second start runs the permanent jobs again, not the hook's
        await asyncio.sleep(0.05)
        again = sum(t.get_name() == "feed" for t in asyncio.all_tasks())
        listen_again = any(t.name == "listen" for t in threading.enumerate())
        await jobs.stop()
        return running, again, listen_again

    running, again, listen_again = asyncio.run(scenario())
    assert cancelled.is_set() and woken.is_set()
    assert running == 0 and again == 1 and not listen_again
