"""The one polling helper of the tests: wait for something that happens in another thread or process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def eventually(
    check: Callable[[], T], timeout: float = 30.0, what: str = "condition", *, interval: float = 0.05
) -> T:
    """Call `check` until it returns something truthy and return that; AssertionError after `timeout` s.
    An exception raised by `check` propagates at once (a dead process is not worth waiting for)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
