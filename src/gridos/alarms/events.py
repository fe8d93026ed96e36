"""Events: state changes that are recorded but never alarm (ISA-18.2 keeps events out of the alarm list).
Breaker open/close is the main one. They are read from the historian, so they need no write on the ingest
path and are exactly as durable as the samples. Telemetry finds the changes (a sample whose value differs
from the device's previous sample of the same boolean measurement, invalid samples excluded:
TelemetryService.state_changes); this module only says what each one means."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridos.telemetry.service import TelemetryService


def state_events(
    telemetry: TelemetryService,
    device_id: str | None,
    from_us: int,
    to_us: int,
    lookback_us: int,
    limit: int,
) -> list[dict[str, Any]]:
    """Changes of every boolean measurement in [from_us, to_us], newest first, each described. Samples from
    `lookback_us` on are read so that the first change of the window has the state it changed from."""
    changes = telemetry.state_changes(device_id, from_us, to_us, lookback_us, limit)
    return [change | {"event": _describe(change["measurement"], change["value"])} for change in changes]


def _describe(measurement: str, value: bool) -> str:
    if measurement == "breaker_closed":
        return "breaker closed" if value else "breaker opened"
    return f"{measurement} {'on' if value else 'off'}"
