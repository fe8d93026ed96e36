"""Failed authentications, counted per client address and per API key prefix (in this process).

After `max_failures` failures inside `window` seconds, that client (or key) is refused with 429 until the
oldest failure leaves the window: guessing tokens costs minutes, not microseconds. Per replica: N replicas
allow N times as many guesses, which is still far too few to matter against 256-bit secrets.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class FailureLimiter:
    def __init__(self, max_failures: int, window_seconds: float) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _prune(self, key: str, now: float) -> deque[float] | None:
        q = self._failures.get(key)
        if q is None:
            return None
        while q and q[0] <= now - self.window:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def retry_after(self, *keys: str) -> float | None:
        """Seconds until these may try again, or None when they are not blocked."""
        now = time.monotonic()
        worst: float | None = None
        with self._lock:
            for key in keys:
                q = self._prune(key, now)
                if q is not None and len(q) >= self.max_failures:
                    wait = q[0] + self.window - now
                    worst = wait if worst is None else max(worst, wait)
        return worst

    def failed(self, *keys: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._failures) > 100_000:  # bounded memory under a spray of distinct addresses
                self._failures.clear()
            for key in keys:
                q = self._failures.setdefault(key, deque())
                q.append(now)
                while len(q) > self.max_failures:
                    q.popleft()
