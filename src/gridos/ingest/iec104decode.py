"""IEC 60870-5-104 information objects -> GridOS readings: value scaling, double-point positions, quality
descriptor bits and time tags (the link handling is in gridos.ingest.iec104)."""

from datetime import UTC, datetime
from typing import Any, NamedTuple

import c104

from gridos.ingest.iec104map import Iec104Point, PointFamily

# Quality descriptor bits (IEC 60870-5-101 7.2.6.3). IV: the value is invalid. NT (not topical: not
# updated successfully at the last attempt), OV (overflow), SB (substituted by an operator or automatic
# source) and BL (blocked for transmission): the value is there but cannot be fully trusted.
IV, NT, SB, BL, OV = 0x80, 0x40, 0x20, 0x10, 0x01
QUESTIONABLE_BITS = NT | SB | BL | OV


class Reading(NamedTuple):
    device_id: str
    measurement: str
    timestamp: datetime
    value: float | bool
    quality: str


def quality_of(bits: int) -> str:
    """IEC 104 quality descriptor -> GridOS quality (IEC 61850 validity)."""
    if bits & IV:
        return "invalid"
    if bits & QUESTIONABLE_BITS:
        return "questionable"
    return "good"


def reading_of(
    point: Iec104Point, info: Any, last: float | bool | None, now: datetime, interrogated: bool = False
) -> Reading:
    """A c104 Information of a mapped point -> the reading GridOS stores. An answer to an interrogation is
    the state *now* (the standard sends it untagged), even from an RTU that attaches its last event's tag."""
    q = info.quality
    quality = quality_of(int(q.value) if q is not None else 0)
    raw = info.value
    value: float | bool
    if point.family is PointFamily.measured:
        value = float(raw) * point.scale + point.offset
    elif point.family is PointFamily.single:
        value = bool(raw)
    elif raw == c104.Double.ON:
        value = True
    elif raw == c104.Double.OFF:
        value = False
    else:  # intermediate (in transit) or indeterminate: no position to report
        value, quality = (last if isinstance(last, bool) else False), "invalid"
    tag = None if interrogated else info.recorded_at  # c104 hands time tags over as naive UTC
    at = tag.replace(tzinfo=UTC) if tag is not None else now
    return Reading(point.device_id, point.measurement, at, value, quality)
