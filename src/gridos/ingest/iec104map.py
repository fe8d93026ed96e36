"""IEC 60870-5-104 point maps (YAML): which RTU links to open and which information object (IOA) feeds
which device measurement.

    defaults:                          # any link key except name/points
      port: 2404
      common_address: 1
    links:
      - name: north-rtu                # unique; names the link in /health/ready and logs
        host: 10.20.0.31
        port: 2404
        backup:                        # redundant addresses of the same RTU, tried in turn on failure
          - {host: 10.20.0.32, port: 2404}
        common_address: 1              # ASDU (station) address
        connect_timeout_s: 5.0         # t0: a connection not open by then counts as failed
        reconnect_min_s: 1.0           # backoff after a failed or lost connection, doubling ...
        reconnect_max_s: 30.0          # ... up to this
        clock_sync_interval_s: 3600    # clock synchronisation (C_CS_NA_1) on connect and every ...; 0 = on connect only
        interrogation_interval_s: 0    # general interrogation on connect and every ...; 0 = on connect only
        points:
          - ioa: 1001                  # information object address, 0..16777215
            type: M_ME_NC_1            # see POINT_TYPES; the time-tagged variant of a type is accepted too
            device_id: north/feeder-1  # a registered GridOS device
            measurement: voltage
            scale: 1.0                 # value = raw * scale + offset (measured values only)
            offset: 0.0

Measured values (M_ME_*) feed numeric measurements; single and double points (M_SP_*, M_DP_*) feed boolean
ones (double point ON = true, OFF = false; intermediate and indeterminate are stored as invalid).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridos.ingest.config import ConnectorConfigError
from gridos.ingest.mapfile import check_measurement, invalid, read_yaml, validate_files
from gridos.telemetry.catalogue import Measurement


class PointFamily(StrEnum):
    measured = "measured"  # M_ME_*: a number
    single = "single"  # M_SP_*: on/off
    double = "double"  # M_DP_*: on/off/intermediate/indeterminate


# Type id -> (family, the type id of the other time-tag variant). An RTU typically answers an
# interrogation without time tags and reports spontaneous changes with them, for the same IOA.
POINT_TYPES: dict[str, tuple[PointFamily, str]] = {
    "M_ME_NA_1": (PointFamily.measured, "M_ME_TD_1"),  # normalised value
    "M_ME_TD_1": (PointFamily.measured, "M_ME_NA_1"),
    "M_ME_NB_1": (PointFamily.measured, "M_ME_TE_1"),  # scaled value
    "M_ME_TE_1": (PointFamily.measured, "M_ME_NB_1"),
    "M_ME_NC_1": (PointFamily.measured, "M_ME_TF_1"),  # short floating point
    "M_ME_TF_1": (PointFamily.measured, "M_ME_NC_1"),
    "M_SP_NA_1": (PointFamily.single, "M_SP_TB_1"),
    "M_SP_TB_1": (PointFamily.single, "M_SP_NA_1"),
    "M_DP_NA_1": (PointFamily.double, "M_DP_TB_1"),
    "M_DP_TB_1": (PointFamily.double, "M_DP_NA_1"),
}


class Address(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 2404

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


class Iec104Point(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ioa: Annotated[int, Field(ge=0, le=16_777_215)]
    type: str
    device_id: str = Field(min_length=1, max_length=128)
    measurement: str
    scale: float = 1.0
    offset: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> Iec104Point:
        if self.type not in POINT_TYPES:
            raise ValueError(f"type {self.type!r} is not supported (one of: {', '.join(POINT_TYPES)})")
        if self.family is not PointFamily.measured and (self.scale != 1.0 or self.offset != 0.0):
            raise ValueError("scale and offset apply to measured values (M_ME_*) only")
        return self

    @property
    def family(self) -> PointFamily:
        return POINT_TYPES[self.type][0]

    @property
    def types(self) -> tuple[str, str]:
        """The mapped type id and its other time-tag variant: both are accepted for this IOA."""
        return self.type, POINT_TYPES[self.type][1]


class Iec104Link(BaseModel):
    """One RTU (controlled station): its address(es), its station and the points GridOS takes from it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64)
    host: str = Field(min_length=1)
    port: Annotated[int, Field(ge=1, le=65535)] = 2404
    backup: list[Address] = Field(default_factory=list, max_length=3)
    common_address: Annotated[int, Field(ge=1, le=65534)] = 1
    connect_timeout_s: Annotated[float, Field(gt=0, le=255)] = 5.0
    reconnect_min_s: Annotated[float, Field(gt=0)] = 1.0
    reconnect_max_s: Annotated[float, Field(gt=0)] = 30.0
    clock_sync_interval_s: Annotated[float, Field(ge=0)] = 3600.0
    interrogation_interval_s: Annotated[float, Field(ge=0)] = 0.0
    points: list[Iec104Point] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Iec104Link:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        seen: dict[int, Iec104Point] = {}
        targets: set[tuple[str, str]] = set()
        for p in self.points:
            if p.ioa in seen:
                raise ValueError(f"IOA {p.ioa} is mapped twice")
            seen[p.ioa] = p
            if (p.device_id, p.measurement) in targets:
                raise ValueError(f"{p.device_id} {p.measurement} is fed by two IOAs")
            targets.add((p.device_id, p.measurement))
        return self

    @property
    def addresses(self) -> list[Address]:
        """The primary address first, then the backups, in the order they are tried."""
        return [Address(host=self.host, port=self.port), *self.backup]

    @property
    def device_ids(self) -> list[str]:
        return sorted({p.device_id for p in self.points})


class PointMapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    links: list[dict[str, Any]] = Field(min_length=1)


def parse_point_map(
    data: Any, catalogue: dict[str, Measurement], source: str = "point map"
) -> list[Iec104Link]:
    try:
        doc = PointMapFile.model_validate(data)
        links = []
        for i, raw in enumerate(doc.links):
            try:
                links.append(Iec104Link.model_validate(doc.defaults | raw))
            except ValidationError as exc:
                raise invalid(source, exc, "links", i) from None
    except ValidationError as exc:
        raise invalid(source, exc) from None
    names: set[str] = set()
    owners: dict[tuple[str, str], str] = {}
    for link in links:
        if link.name in names:
            raise ConnectorConfigError(f"{source}: link {link.name!r} is listed twice")
        names.add(link.name)
        for p in link.points:
            check_measurement(
                catalogue,
                p.measurement,
                f"{source}: link {link.name!r}: IOA {p.ioa}",
                p.family is not PointFamily.measured,
                "boolean measurements take single or double points (M_SP_*, M_DP_*), numeric ones measured "
                "values (M_ME_*)",
            )
            other = owners.setdefault((p.device_id, p.measurement), link.name)
            if other != link.name:
                raise ConnectorConfigError(
                    f"{source}: {p.device_id} {p.measurement} is fed by links {other!r} and {link.name!r}"
                )
    return links


def load_point_map(path: Path, catalogue: dict[str, Measurement]) -> list[Iec104Link]:
    return parse_point_map(read_yaml(path, "GRIDOS_IEC104_POINT_MAP"), catalogue, str(path))


def main(argv: list[str] | None = None) -> int:
    """`python -m gridos.ingest.iec104map FILE...`: validate point maps offline."""
    return validate_files(
        "gridos.ingest.iec104map",
        argv,
        load_point_map,
        lambda links: f"{len(links)} links, {sum(len(link.points) for link in links)} points",
    )


if __name__ == "__main__":
    raise SystemExit(main())
