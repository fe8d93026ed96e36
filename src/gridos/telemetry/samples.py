"""The seam between telemetry and its consumers: what a committed sample is, and who may observe batches.

`TelemetryService.commit` hands every batch to its observers (alarms) as a sequence of `Sample`s, each
quality one of `Quality` (`INVALID` samples are stored but never alarmed on or aggregated): a
`BatchObserver` once the batch committed, a `TransactionObserver` (PostgreSQL) inside its transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import IntEnum
from typing import Any, Final, Protocol


class Quality(IntEnum):
    """IEC 61850 validity: good, questionable, invalid. Stored as a small integer."""

    good = 0
    questionable = 1
    invalid = 2


# The plain int, for hot loops (an enum member's attribute lookup costs more than a global).
INVALID: Final[int] = Quality.invalid.value


# One committed sample: (device_id, measurement, ts_us, value, quality, received_us), times in µs since the
# epoch (gridos.clock). A plain tuple on purpose: ingest builds >100k a second, and a NamedTuple's
# constructor (a Python-level __new__) made TelemetryService.to_rows 2-4x slower than the tuple literal
# (measured on 20,000-sample batches); unpacking, the only way consumers read it, costs the same.
Sample = tuple[str, str, int, float, int, int]


class BatchObserver(Protocol):
    def __call__(self, batch: Sequence[Sample], /) -> None:
        """Called after each committed batch, on the committing thread. Must not raise."""


class TransactionObserver(Protocol):
    def __call__(self, conn: Any, batch: Sequence[Sample], /) -> Callable[[], object] | None:
        """Called on PostgreSQL inside each batch's transaction (`conn`, a SQLAlchemy Connection) once its
        rows are written, on the committing thread; returns what to run after the commit, if anything.
        Must not raise, and must leave the transaction usable (a savepoint of its own)."""
