"""The measurement catalogue: what a sample may carry, with its unit, its plausible range and precision.

Plausibility is checked twice on ingest, and a value outside either range is refused with a 422 naming
the item and the field (never stored, never alarmed on, never averaged):
- absolute bounds per measurement (`minimum`/`maximum`): what any grid device could report. They also keep
  every sum of accepted values finite, so aggregates (avg over a bucket) can never overflow;
- bounds from the device's ratings (`rating`, `rating_factor`): |value| <= factor x the device's rating,
  e.g. a voltage above twice the nominal voltage is a wrong scale or a broken transducer, not a reading.
"""

from __future__ import annotations

from dataclasses import dataclass

# Bounds of a measurement added through GRIDOS_EXTRA_MEASUREMENTS (whose physics we do not know): wide,
# but finite, so that a billion such values still sum to a finite number.
EXTRA_BOUND = 1e12


@dataclass(frozen=True, slots=True)
class Measurement:
    name: str
    unit: str
    kind: str = "float"  # or "bool"
    minimum: float | None = None
    maximum: float | None = None
    decimals: int = 3  # the precision limits and derived figures are shown with
    rating: str | None = None  # the device rating (devices table column) that bounds the value ...
    rating_factor: float = 0.0  # ... as |value| <= rating_factor x rating


CORE_MEASUREMENTS: tuple[Measurement, ...] = (
    # 1.5 MV: above the highest AC transmission voltage in service (1,100-1,200 kV).
    Measurement(
        "voltage", "V", minimum=0, maximum=1.5e6, decimals=2, rating="nominal_voltage", rating_factor=2.0
    ),
    # Fault currents reach 20-50 x rated at most; 1 MA is beyond any breaker's interrupting rating.
    Measurement(
        "current", "A", minimum=0, maximum=1e6, decimals=2, rating="rated_current", rating_factor=50.0
    ),
    # 10 GW: more than the largest power station; a device delivers at most a few times its rating.
    Measurement(
        "active_power", "kW", minimum=-1e7, maximum=1e7, decimals=2, rating="rated_power", rating_factor=3.0
    ),
    Measurement(
        "reactive_power",
        "kvar",
        minimum=-1e7,
        maximum=1e7,
        decimals=2,
        rating="rated_power",
        rating_factor=3.0,
    ),
    Measurement("power_factor", "", minimum=-1, maximum=1, decimals=3),
    Measurement("frequency", "Hz", minimum=0, maximum=100, decimals=3),
    # Transformer hot-spot limits are ~140 degC; 400 degC is a fire or a broken sensor.
    Measurement("temperature", "degC", minimum=-100, maximum=400, decimals=1),
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
        catalogue[name] = Measurement(name, unit.strip(), minimum=-EXTRA_BOUND, maximum=EXTRA_BOUND)
    return catalogue


RESERVED_FIELDS = frozenset({"device_id", "timestamp", "quality"})
