"""The seam between telemetry and its consumers: what a committed sample is, and who may observe batches.

`TelemetryService.commit` hands every committed batch to its observers (alarms) as a sequence of `Sample`s.
A `Sample` is a NamedTuple: ingest builds >100k of them a second, and a NamedTuple costs what a tuple
costs to store, unpack and write (psycopg's COPY and SQLAlchemy take it as the tuple it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import Final, NamedTuple, Protocol


class Quality(IntEnum):
    """IEC 61850 validity: good, questionable, invalid. Stored as a small integer."""

    good = 0
    questionable = 1
    invalid = 2


# The plain int, for hot loops (an enum member's attribute lookup costs more than a global).
INVALID: Final[int] = Quality.invalid.value


class Sample(NamedTuple):
    device_id: str
    measurement: str
    ts_us: int
    value: float
    quality: int  # a Quality value
    received_us: int


class BatchObserver(Protocol):
    def __call__(self, batch: Sequence[Sample], /) -> None:
        """Called after each committed batch, on the committing thread. Must not raise."""
