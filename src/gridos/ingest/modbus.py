"""Modbus TCP polling: one thread and one TCP connection per device, every `poll_interval_s`.

A poll reads every mapped register (each read retried `retries` times, reconnecting in between, within
`timeout_s` per attempt) and commits one sample per measurement with quality "good". When a poll fails,
the device's measurements are committed with quality "invalid" (last good value, 0 before any), the
connection is dropped and the comm-failure alarm is raised; the next poll reconnects by itself, and the
first good poll clears the alarm.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import ValidationError
from pymodbus.client import ModbusTcpClient
from pymodbus.exceptions import ModbusException

from gridos.errors import InvalidInput, PayloadTooLarge
from gridos.ingest.connector import comm_alarm, report_gauges, stand_down
from gridos.ingest.leader import LeaderLock
from gridos.ingest.registermap import ModbusDevice, ReadBlock, Register, RegisterType, read_plan
from gridos.observability.metrics import Metrics
from gridos.telemetry.service import TelemetryService

log = logging.getLogger("gridos.ingest.modbus")
PROTOCOL = "modbus"
# pymodbus logs every failed connect at ERROR; the poller reports failures itself, once per transition.
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


class CommFailureSink(Protocol):
    def comm_failure(self, device_id: str, detail: str) -> None: ...
    def comm_restored(self, device_id: str) -> None: ...


class PollFailed(Exception):
    pass


@dataclass
class DeviceState:
    device: ModbusDevice
    client: ModbusTcpClient
    failed: bool | None = None  # None until the first poll
    consecutive_failures: int = 0
    polls: int = 0
    last_poll_at: datetime | None = None
    last_error: str | None = None
    last_values: dict[str, float | bool] = field(default_factory=dict)
    plan: list[ReadBlock] = field(default_factory=list)


class ModbusPoller:
    def __init__(
        self,
        devices: list[ModbusDevice],
        telemetry: TelemetryService,
        metrics: Metrics,
        alarms: Any = None,
        leader: LeaderLock | None = None,
        leader_check_s: float = 5.0,
    ) -> None:
        """`alarms`: a callable returning the comm-failure sink (services.alarms) or None. `leader`: the
        lock that makes one replica poll (None: this process always polls)."""
        self.telemetry = telemetry
        self.metrics = metrics
        self._alarms = alarms or (lambda: None)
        self.states = [
            DeviceState(
                d, ModbusTcpClient(d.host, port=d.port, timeout=d.timeout_s, retries=0), plan=read_plan(d)
            )
            for d in devices
        ]
        self.leader = leader
        self.leader_check_s = leader_check_s
        self.active = threading.Event()  # set while this process is the one polling
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        metrics.connector_up.labels(protocol=PROTOCOL).set(0)
        self._refresh_gauges()

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.leader is None:
            self.active.set()
        else:
            t = threading.Thread(target=self._supervise, name="modbus-leader", daemon=True)
            self._threads.append(t)
            t.start()
        for state in self.states:
            t = threading.Thread(
                target=self._run, args=(state,), name=f"modbus-{state.device.device_id}", daemon=True
            )
            self._threads.append(t)
            t.start()
        log.info("modbus poller started", extra={"devices": len(self.states)})

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        for state in self.states:
            state.client.close()
        stand_down(self.metrics, PROTOCOL, self.leader, self.active)

    def _supervise(self) -> None:
        assert self.leader is not None
        self.leader.follow(self.active, self._stop, self.leader_check_s, self._refresh_gauges, self._standby)

    def _standby(self) -> None:
        for state in self.states:  # another replica polls now: our view of the devices is stale
            state.failed = None
            state.client.close()

    def _run(self, state: DeviceState) -> None:
        interval = state.device.poll_interval_s
        next_at = time.monotonic()
        while not self._stop.is_set():
            if not self.active.is_set():  # standby: another replica holds the polling lock
                self.active.wait(0.5)
                next_at = time.monotonic()
                continue
            try:
                self.poll(state)
            except Exception:  # never let one device's surprise end its thread
                log.exception("modbus poll crashed", extra={"device_id": state.device.device_id})
            next_at += interval
            now = time.monotonic()
            if next_at < now:  # a slow poll (timeouts): skip the missed slots rather than burst
                next_at = now + interval
            self._stop.wait(next_at - now)

    # -- one poll -------------------------------------------------------------------------------
    def poll(self, state: DeviceState) -> None:
        at = datetime.now(UTC)
        try:
            values = self._read_all(state)
        except PollFailed as exc:
            self._on_failure(state, at, str(exc))
        else:
            self._on_success(state, at, values)
        finally:
            state.polls += 1
            state.last_poll_at = at
            self._refresh_gauges()

    def _read_all(self, state: DeviceState) -> dict[str, float | bool]:
        values: dict[str, float | bool] = {}
        for block in state.plan:
            values.update(block.values(self._read(state, block)))
        return values

    def _read(self, state: DeviceState, block: ReadBlock) -> list[int] | list[bool]:
        device, client = state.device, state.client
        what = f"{'+'.join(r.measurement for r in block.registers)}@{block.type}:{block.address}"
        error = "no attempt"
        for attempt in range(device.retries + 1):
            if self._stop.is_set():
                raise PollFailed("poller stopping")
            try:
                if not client.connected and not client.connect():
                    raise ModbusException(f"cannot connect to {device.host}:{device.port}")
                if block.type is RegisterType.coil:
                    rr = client.read_coils(block.address, count=block.count, device_id=device.unit)
                elif block.type is RegisterType.input:
                    rr = client.read_input_registers(block.address, count=block.count, device_id=device.unit)
                else:
                    rr = client.read_holding_registers(
                        block.address, count=block.count, device_id=device.unit
                    )
                if rr.isError():
                    error = f"{what}: exception response {rr}"
                else:
                    return (
                        list(rr.bits[: block.count])
                        if block.type is RegisterType.coil
                        else list(rr.registers)
                    )
            except (ModbusException, OSError) as exc:
                error = f"{what}: {type(exc).__name__}: {exc}"
                client.close()  # a fresh connection for the next attempt
            if attempt < device.retries:
                self._stop.wait(min(0.2 * (attempt + 1), device.poll_interval_s / 4))
        client.close()
        raise PollFailed(f"after {device.retries + 1} attempt(s): {error}"[:500])

    def _on_success(self, state: DeviceState, at: datetime, values: dict[str, float | bool]) -> None:
        device_id = state.device.device_id
        was_failed = state.failed
        state.failed = False
        state.consecutive_failures = 0
        state.last_error = None
        stored = self._commit(state, at, values, "good")
        if stored:
            state.last_values.update(values)
        self.metrics.connector_polls.labels(protocol=PROTOCOL, result="ok").inc()
        self.metrics.connector_messages.labels(protocol=PROTOCOL).inc()
        if was_failed is not False:  # recovered, or the first poll (clears an alarm left from before)
            if was_failed:
                log.info("modbus device communication restored", extra={"device_id": device_id})
            self._alarm("comm_restored", device_id)

    def _on_failure(self, state: DeviceState, at: datetime, error: str) -> None:
        device_id = state.device.device_id
        was_failed = state.failed
        state.failed = True
        state.consecutive_failures += 1
        state.last_error = error
        self.metrics.connector_polls.labels(protocol=PROTOCOL, result="failed").inc()
        self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
        invalid = {
            r.measurement: state.last_values.get(r.measurement, _zero(r)) for r in state.device.registers
        }
        self._commit(state, at, invalid, "invalid")
        if not was_failed:
            log.warning("modbus device communication failed", extra={"device_id": device_id, "error": error})
            self._alarm("comm_failure", device_id, f"Modbus {state.device.host}:{state.device.port}: {error}")

    def _commit(
        self, state: DeviceState, at: datetime, values: dict[str, float | bool], quality: str
    ) -> bool:
        item: dict[str, Any] = {
            "device_id": state.device.device_id,
            "timestamp": at,
            "quality": quality,
            **values,
        }
        model = self.telemetry.sample_model
        try:
            try:
                parsed = model.model_validate(item)
            except ValidationError as exc:
                # A value outside the measurement's bounds (a wrong scale or word order): drop that value,
                # keep the others, and say which.
                bad = {str(e["loc"][0]) for e in exc.errors() if e["loc"]}
                self.metrics.connector_errors.labels(protocol=PROTOCOL).inc(len(bad))
                state.last_error = f"rejected value(s) of {', '.join(sorted(bad))}: {exc.errors()[0]['msg']}"
                log.warning(
                    "modbus value rejected",
                    extra={"device_id": state.device.device_id, "error": state.last_error},
                )
                for name in bad:
                    item.pop(name, None)
                if len(item) <= 3:
                    return False
                parsed = model.model_validate(item)
            rows = self.telemetry.to_rows([parsed], at)
            self.telemetry.commit(rows, PROTOCOL)
            return True
        except (InvalidInput, PayloadTooLarge) as exc:  # e.g. the device is not registered
            state.last_error = exc.detail
            self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
            log.warning(
                "modbus samples rejected", extra={"device_id": state.device.device_id, "error": exc.detail}
            )
        except Exception as exc:  # database unavailable: the next poll tries again
            state.last_error = f"commit failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            self.metrics.connector_errors.labels(protocol=PROTOCOL).inc()
            log.warning("modbus samples not committed", extra={"device_id": state.device.device_id})
        return False

    def _alarm(self, method: str, device_id: str, *args: str) -> None:
        comm_alarm(self._alarms, log, method, device_id, *args)

    # -- operations -----------------------------------------------------------------------------
    def _refresh_gauges(self) -> None:
        with self._lock:
            failed = sum(1 for s in self.states if s.failed)
            ok = sum(1 for s in self.states if s.failed is False)
            polling = self.active.is_set() and not self._stop.is_set()
            up = bool(self._threads) and not self._stop.is_set() and failed == 0
            report_gauges(self.metrics, PROTOCOL, ok, failed, polling, up)

    def health(self) -> dict[str, Any]:
        """A failing field device is an alarm, not a reason to take GridOS out of service: the status stays
        healthy while the poller runs; the details say which devices fail."""
        running = bool(self._threads) and not self._stop.is_set()
        devices = {
            s.device.device_id: {
                "endpoint": f"{s.device.host}:{s.device.port}/{s.device.unit}",
                "state": "unknown" if s.failed is None else ("failed" if s.failed else "ok"),
                "consecutive_failures": s.consecutive_failures,
                "last_poll_at": s.last_poll_at.isoformat() if s.last_poll_at else None,
                "last_error": s.last_error,
            }
            for s in self.states
        }
        return {
            "status": "healthy" if running else "stopped",
            "role": "polling" if self.active.is_set() else "standby",
            "devices_ok": sum(1 for s in self.states if s.failed is False),
            "devices_failed": sum(1 for s in self.states if s.failed),
            "devices": devices,
        }


def _zero(register: Register) -> float | bool:
    return False if register.type is RegisterType.coil else 0.0
