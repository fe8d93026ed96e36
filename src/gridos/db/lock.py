"""One process per embedded database: an exclusive lock file beside the SQLite file.

Two GridOS processes on one SQLite file would both run connectors, supervision and retention against it
(a second `make demo` wrote invalid samples and comm alarms into the first one's database). SQLite's own
locking serialises writes but does not stop that, so `gridos serve`/`demo` take this lock first and refuse
to start without it. The kernel releases it when the process dies, even on SIGKILL: no stale locks.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class DatabaseInUse(RuntimeError):
    """Another process holds the embedded database."""


class EmbeddedDatabaseLock:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path.with_name(db_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> EmbeddedDatabaseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise DatabaseInUse(
                f"the embedded database {self.path.with_suffix('')} is in use by another GridOS process "
                f"(pid {holder}); stop it, or give this one its own GRIDOS_DATA_DIR"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
