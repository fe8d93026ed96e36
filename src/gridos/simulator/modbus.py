"""A Modbus TCP server (pymodbus) whose registers hold simulated devices' readings.

`RegisterBank` is the memory of one unit id: holding registers, input registers and coils, written from
Python (thread-safe) and served as they are at the moment of each request. `ModbusTcpSimulator` runs a
pymodbus server for any number of unit ids on 127.0.0.1 in a background thread. `FleetRegisterWriter`
fills the banks from the fleet simulator through the same register map GridOS polls with, so
`gridos demo --modbus` exercises the real protocol path end to end.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import Any

from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from gridos.ingest.registermap import ModbusDevice, Register, RegisterType, to_registers

log = logging.getLogger("gridos.simulator.modbus")
BANK_SIZE = 1024  # registers (and coils) per table and unit id: addresses 0..1023
_READ_CODES = {1: "coil", 3: "holding", 4: "input"}


class RegisterBank:
    """The memory of one Modbus unit: 1,024 holding registers, input registers and coils from address 0."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.holding = [0] * BANK_SIZE
        self.input = [0] * BANK_SIZE
        self.coils = [False] * BANK_SIZE

    def set_registers(self, table: str, address: int, words: Iterable[int]) -> None:
        target = self.holding if table == "holding" else self.input
        with self._lock:
            for i, w in enumerate(words):
                if not 0 <= w <= 0xFFFF:
                    raise ValueError(f"register value {w} is not a 16-bit word")
                target[address + i] = w

    def set_coil(self, address: int, value: bool) -> None:
        with self._lock:
            self.coils[address] = bool(value)

    def write(self, register: Register, value: float | bool) -> None:
        raw = to_registers(register, value)
        if register.type is RegisterType.coil:
            self.set_coil(register.address, bool(raw[0]))
        else:
            self.set_registers(register.type.value, register.address, [int(w) for w in raw])

    def snapshot(self, table: str) -> list[int]:
        """The table as pymodbus stores it: registers, or coils packed 16 per register, bit 0 first."""
        with self._lock:
            if table == "coil":
                return [
                    sum(1 << b for b in range(16) if self.coils[r * 16 + b]) for r in range(BANK_SIZE // 16)
                ]
            return list(self.holding if table == "holding" else self.input)


def _sim_device(unit: int, bank: RegisterBank, answering: threading.Event) -> SimDevice:
    async def refresh(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        current_registers: list[int],
        set_values: Any,
    ) -> None:
        while not answering.is_set():  # a device that has stopped answering: the request hangs
            await asyncio.sleep(0.05)
        table = _READ_CODES.get(function_code)
        if table is not None and set_values is None:
            current_registers[:] = bank.snapshot(table)
        return None

    return SimDevice(
        id=unit,
        simdata=(
            [SimData(0, count=BANK_SIZE // 16, datatype=DataType.BITS)],
            [SimData(0, count=BANK_SIZE // 16, datatype=DataType.BITS)],
            [SimData(0, count=BANK_SIZE, datatype=DataType.REGISTERS)],
            [SimData(0, count=BANK_SIZE, datatype=DataType.REGISTERS)],
        ),
        action=refresh,
    )


class ModbusTcpSimulator:
    """A pymodbus TCP server on host:port serving one RegisterBank per unit id, in a background thread."""

    def __init__(self, port: int, units: Iterable[int] = (1,), host: str = "127.0.0.1") -> None:
        self.host, self.port = host, port
        self.banks = {unit: RegisterBank() for unit in units}
        # Cleared: requests are accepted but never answered (a hung device or gateway); set again to resume.
        self.answering = threading.Event()
        self.answering.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    def start(self, timeout: float = 10.0) -> ModbusTcpSimulator:
        self._thread = threading.Thread(target=self._serve, name=f"modbus-sim-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(timeout) or self._error:
            raise RuntimeError(f"modbus simulator did not start on {self.host}:{self.port}: {self._error}")
        return self

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by start()
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    async def _main(self) -> None:
        # pymodbus servers must be built inside their running loop.
        devices = [_sim_device(unit, bank, self.answering) for unit, bank in self.banks.items()]
        self._server = ModbusTcpServer(devices, address=(self.host, self.port))
        await self._server.serve_forever(background=True)
        self._started.set()
        await self._server.serving
        # Requests still hanging (answering cleared) end with the server, not after the loop closes.
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        self.answering.set()
        if self._loop and self._server and self._thread and self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self._server.shutdown(), self._loop).result(10)
            self._thread.join(10)

    def __enter__(self) -> ModbusTcpSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class FleetRegisterWriter:
    """Writes fleet readings (items in the REST schema) into the banks, through the register map."""

    def __init__(self, devices: list[ModbusDevice], banks: dict[int, RegisterBank]) -> None:
        self.by_id = {d.device_id: d for d in devices}
        self.banks = banks

    def write(self, items: list[dict[str, Any]]) -> int:
        written = 0
        for item in items:
            device = self.by_id.get(item["device_id"])
            if device is None:
                continue
            bank = self.banks[device.unit]
            for register in device.registers:
                value = item.get(register.measurement)
                if value is not None:
                    bank.write(register, value)
                    written += 1
        return written


# Where the simulated fleet keeps each measurement: a mix of data types, word orders and scales, so that
# the demo exercises the decoding GridOS does for real devices.
FLEET_LAYOUT: dict[str, dict[str, Any]] = {
    "voltage": {"address": 0, "data_type": "float32"},
    "current": {"address": 2, "data_type": "float32", "word_order": "little"},
    "active_power": {"address": 4, "data_type": "int32", "scale": 0.01},
    "reactive_power": {"address": 6, "data_type": "int32", "scale": 0.01},
    "power_factor": {"address": 8, "data_type": "int16", "scale": 0.0001},
    "frequency": {"address": 9, "type": "input", "data_type": "uint16", "scale": 0.001},
    "temperature": {"address": 10, "type": "input", "data_type": "int16", "scale": 0.1},
    "breaker_closed": {"address": 0, "type": "coil", "data_type": "bool"},
}


def fleet_register_map(
    sample_items: list[dict[str, Any]], host: str, port: int, poll_interval_s: float
) -> dict[str, Any]:
    """A register-map document (the YAML GridOS reads) for the devices of `sample_items`, one unit id
    each, mapping the measurements each device actually reports."""
    devices = []
    for unit, item in enumerate(sample_items, start=1):
        registers = [
            {"measurement": name, **FLEET_LAYOUT[name]} for name in FLEET_LAYOUT if item.get(name) is not None
        ]
        devices.append({"device_id": item["device_id"], "unit": unit, "registers": registers})
    return {
        "defaults": {
            "host": host,
            "port": port,
            "poll_interval_s": poll_interval_s,
            "timeout_s": 1.0,
            "retries": 1,
        },
        "devices": devices,
    }
