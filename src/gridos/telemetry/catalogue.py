"""The measurement catalogue: what a sample may carry, with its unit and physical bounds."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Quality(IntEnum):
    """IEC 61850 validity: good, questionable, invalid. Stored as a small integer."""

    good = 0
    questionable = 1
    invalid = 2


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    unit: str
    kind: str = "float"  # or "bool"
    minimum: float | None = None
    maximum: float | None = None


CORE_MEASUREMENTS: tuple[Measurement, ...] = (
    Measurement("voltage", "V", minimum=0),
    Measurement("current", "A", minimum=0),
    Measurement("active_power", "kW"),
    Measurement("reactive_power", "kvar"),
    Measurement("power_factor", "", minimum=-1, maximum=1),
    Measurement("frequency", "Hz", minimum=0),
    Measurement("temperature", "degC", minimum=-273.15),
    Measurement("breaker_closed", "bool", kind="bool"),
)


def build_catalogue(extra: str = "") -> dict[str, Measurement]:
    """Core measurements plus `name:unit` entries from settings (GRIDOS_EXTRA_MEASUREMENTS)."""
    catalogue = {m.name: m for m in CORE_MEASUREMENTS}
    for raw in extra.split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, _, unit = entry.partition(":")
        name = name.strip()
        if not name.isidentifier() or name in RESERVED_FIELDS:
            raise ValueError(f"GRIDOS_EXTRA_MEASUREMENTS: invalid measurement name {name!r}")
        catalogue[name] = Measurement(name, unit.strip())
    return catalogue


RESERVED_FIELDS = frozenset({"device_id", "timestamp", "quality"})
