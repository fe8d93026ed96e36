"""Events: state changes that are recorded but never alarm (ISA-18.2 keeps events out of the alarm list).
Breaker open/close is the main one. They are read from the historian, so they need no write on the ingest
path and are exactly as durable as the samples: a change is a sample whose value differs from the device's
previous sample of the same boolean measurement (invalid samples excluded)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from gridos.clock import from_us as to_datetime
from gridos.telemetry.catalogue import Measurement
from gridos.telemetry.samples import INVALID

_EVENTS = """
SELECT device_id, measurement, ts, value, previous FROM (
    SELECT device_id, measurement, ts, value,
           LAG(value) OVER (PARTITION BY device_id, measurement ORDER BY ts) AS previous
    FROM samples
    WHERE measurement IN ({names}) AND quality < :invalid AND ts <= :to_us
      AND ts >= :lookback_us {device_filter}
) AS changes
WHERE previous IS NOT NULL AND value <> previous AND ts >= :from_us
ORDER BY ts DESC, device_id
LIMIT :limit
"""


def state_events(
    engine: Engine,
    catalogue: dict[str, Measurement],
    device_id: str | None,
    from_us: int,
    to_us: int,
    lookback_us: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Changes of every boolean measurement in [from_us, to_us], newest first. Samples from `lookback_us` on
    are read so that the first change of the window has the state it changed from."""
    names = [m.name for m in catalogue.values() if m.kind == "bool"]
    if not names:
        return []
    params: dict[str, Any] = {
        "invalid": INVALID,
        "from_us": from_us,
        "to_us": to_us,
        "lookback_us": lookback_us,
        "limit": limit,
    }
    params |= {f"m{i}": name for i, name in enumerate(names)}
    sql = _EVENTS.format(
        names=", ".join(f":m{i}" for i in range(len(names))),
        device_filter="AND device_id = :device_id" if device_id else "",
    )
    if device_id:
        params["device_id"] = device_id
    with engine.connect() as conn:
        rows = conn.execute(text(sql), params).all()
    return [
        {
            "device_id": r.device_id,
            "measurement": r.measurement,
            "ts": to_datetime(r.ts),
            "value": bool(r.value),
            "previous": bool(r.previous),
            "event": _describe(r.measurement, bool(r.value)),
        }
        for r in rows
    ]


def _describe(measurement: str, value: bool) -> str:
    if measurement == "breaker_closed":
        return "breaker closed" if value else "breaker opened"
    return f"{measurement} {'on' if value else 'off'}"
