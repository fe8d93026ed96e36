"""Modbus register maps (YAML) and the conversion between registers and engineering values.

    devices:
      - device_id: north/feeder-1        # a registered GridOS device
        host: 10.0.0.21
        port: 502
        unit: 1                          # Modbus unit (slave) id
        poll_interval_s: 2.0
        timeout_s: 1.0
        retries: 2                       # extra attempts per read before the poll counts as failed
        registers:
          - measurement: voltage
            address: 0                   # zero-based protocol address
            type: holding                # holding | input | coil
            data_type: float32           # int16 | uint16 | int32 | uint32 | float32 (coils: bool)
            word_order: big              # big = high word first (Modicon); little = low word first
            byte_order: big              # big = high byte first inside each register
            scale: 1.0                   # value = raw * scale + offset
            offset: 0.0

Defaults for every device may be given under `defaults:` (any device key except device_id/registers).
"""

from __future__ import annotations

import struct
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gridos.ingest.config import ConnectorConfigError
from gridos.ingest.mapfile import check_measurement, invalid, read_yaml, validate_files
from gridos.telemetry.catalogue import Measurement


class RegisterType(StrEnum):
    holding = "holding"
    input = "input"
    coil = "coil"


class DataType(StrEnum):
    int16 = "int16"
    uint16 = "uint16"
    int32 = "int32"
    uint32 = "uint32"
    float32 = "float32"
    bool = "bool"


# struct format and number of 16-bit registers of each type
_FORMATS: dict[DataType, tuple[str, int]] = {
    DataType.int16: ("h", 1),
    DataType.uint16: ("H", 1),
    DataType.int32: ("i", 2),
    DataType.uint32: ("I", 2),
    DataType.float32: ("f", 2),
}

Order = Literal["big", "little"]


class Register(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    measurement: str
    address: Annotated[int, Field(ge=0, le=65535)]
    type: RegisterType = RegisterType.holding
    data_type: DataType = DataType.uint16
    word_order: Order = "big"
    byte_order: Order = "big"
    scale: float = 1.0
    offset: float = 0.0

    @model_validator(mode="after")
    def _check(self) -> Register:
        if (self.type is RegisterType.coil) != (self.data_type is DataType.bool):
            raise ValueError("coils have data_type bool, and only coils do")
        if self.type is not RegisterType.coil and self.address + self.count - 1 > 65535:
            raise ValueError("register range runs past address 65535")
        return self

    @property
    def count(self) -> int:
        return 1 if self.data_type is DataType.bool else _FORMATS[self.data_type][1]


class ModbusDevice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    device_id: str = Field(min_length=1, max_length=128)
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    unit: Annotated[int, Field(ge=0, le=255)] = 1
    poll_interval_s: Annotated[float, Field(gt=0)] = 5.0
    timeout_s: Annotated[float, Field(gt=0)] = 1.0
    retries: Annotated[int, Field(ge=0, le=10)] = 2
    registers: list[Register] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ModbusDevice:
        names = [r.measurement for r in self.registers]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"measurement(s) mapped twice: {', '.join(sorted(dupes))}")
        return self


class RegisterMapFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    devices: list[dict[str, Any]] = Field(min_length=1)


# Largest single read the protocol allows: 125 registers (FC 3/4), 2000 coils (FC 1).
MAX_READ = {RegisterType.holding: 125, RegisterType.input: 125, RegisterType.coil: 2000}


class ReadBlock(BaseModel):
    """One Modbus request covering adjacent mapped registers of one table."""

    model_config = ConfigDict(frozen=True)

    type: RegisterType
    address: int
    count: int
    registers: tuple[Register, ...]

    def values(self, raw: list[int] | list[bool]) -> dict[str, float | bool]:
        out: dict[str, float | bool] = {}
        for r in self.registers:
            start = r.address - self.address
            out[r.measurement] = to_value(r, raw[start : start + r.count])
        return out


def read_plan(device: ModbusDevice) -> list[ReadBlock]:
    """Adjacent registers of the same table are read in one request (never across a gap: a device may
    answer IllegalAddress for unmapped registers), up to the protocol's maximum per request."""
    blocks: list[ReadBlock] = []
    for table in RegisterType:
        regs = sorted((r for r in device.registers if r.type is table), key=lambda r: r.address)
        group: list[Register] = []
        for r in regs:
            if group:
                end = group[-1].address + group[-1].count
                if r.address != end or r.address + r.count - group[0].address > MAX_READ[table]:
                    blocks.append(_block(table, group))
                    group = []
            group.append(r)
        if group:
            blocks.append(_block(table, group))
    return blocks


def _block(table: RegisterType, group: list[Register]) -> ReadBlock:
    last = group[-1]
    return ReadBlock(
        type=table,
        address=group[0].address,
        count=last.address + last.count - group[0].address,
        registers=tuple(group),
    )


def decode(
    words: list[int], data_type: DataType, word_order: Order = "big", byte_order: Order = "big"
) -> float:
    """Registers as read (16-bit unsigned, in address order) -> the raw number they hold."""
    fmt, count = _FORMATS[data_type]
    if len(words) != count:
        raise ValueError(f"{data_type} needs {count} register(s), got {len(words)}")
    ordered = words if word_order == "big" else list(reversed(words))
    data = b"".join(w.to_bytes(2, "big" if byte_order == "big" else "little") for w in ordered)
    return float(struct.unpack(f">{fmt}", data)[0])


def encode(
    value: float, data_type: DataType, word_order: Order = "big", byte_order: Order = "big"
) -> list[int]:
    """The inverse of decode (used by the simulator's Modbus server): raw number -> registers."""
    fmt, count = _FORMATS[data_type]
    raw: float | int = value if data_type is DataType.float32 else round(value)
    data = struct.pack(f">{fmt}", raw)
    words = [
        int.from_bytes(data[i : i + 2], "big" if byte_order == "big" else "little")
        for i in range(0, 2 * count, 2)
    ]
    return words if word_order == "big" else list(reversed(words))


def to_value(register: Register, raw: list[int] | list[bool]) -> float | bool:
    """Registers or coil bits -> the engineering value of `register`."""
    if register.type is RegisterType.coil:
        return bool(raw[0])
    number = decode([int(w) for w in raw], register.data_type, register.word_order, register.byte_order)
    return number * register.scale + register.offset


def to_registers(register: Register, value: float | bool) -> list[int] | list[bool]:
    """Engineering value -> what the device holds (the simulator's side of to_value)."""
    if register.type is RegisterType.coil:
        return [bool(value)]
    raw = (float(value) - register.offset) / register.scale
    return encode(raw, register.data_type, register.word_order, register.byte_order)


def parse_register_map(
    data: Any, catalogue: dict[str, Measurement], source: str = "register map"
) -> list[ModbusDevice]:
    try:
        doc = RegisterMapFile.model_validate(data)
        devices = [ModbusDevice.model_validate(doc.defaults | d) for d in doc.devices]
    except ValidationError as exc:
        raise invalid(source, exc) from None
    seen: set[str] = set()
    for device in devices:
        if device.device_id in seen:
            raise ConnectorConfigError(f"{source}: device {device.device_id!r} is listed twice")
        seen.add(device.device_id)
        for r in device.registers:
            check_measurement(
                catalogue,
                r.measurement,
                f"{source}: device {device.device_id!r}",
                r.type is RegisterType.coil,
                "boolean measurements map to coils and numeric ones to registers",
            )
    return devices


def load_register_map(path: Path, catalogue: dict[str, Measurement]) -> list[ModbusDevice]:
    return parse_register_map(read_yaml(path, "GRIDOS_MODBUS_REGISTER_MAP"), catalogue, str(path))


def main(argv: list[str] | None = None) -> int:
    """`python -m gridos.ingest.registermap FILE...`: validate register maps offline (make check-ingest)."""
    return validate_files(
        "gridos.ingest.registermap",
        argv,
        load_register_map,
        lambda devices: f"{len(devices)} devices, {sum(len(d.registers) for d in devices)} registers",
    )


if __name__ == "__main__":
    raise SystemExit(main())
