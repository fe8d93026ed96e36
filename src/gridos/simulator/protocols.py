"""The demo's field-protocol paths: the simulated fleet publishing over MQTT, one site served as Modbus
TCP devices that GridOS polls and one as an IEC 60870-5-104 outstation (RTU) GridOS connects to. `prepare()` returns the GRIDOS_* settings GridOS needs to consume
them and the outputs object the fleet simulator sends its readings through."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from gridos.ingest.config import require_c104
from gridos.ingest.iec104map import parse_point_map
from gridos.ingest.registermap import parse_register_map
from gridos.simulator.fleet import FleetSimulator
from gridos.simulator.modbus import FleetRegisterWriter, ModbusTcpSimulator, fleet_register_map
from gridos.simulator.mqtt import MqttFleetPublisher, parse_address
from gridos.telemetry.catalogue import build_catalogue

if TYPE_CHECKING:
    from gridos.simulator.iec104 import FleetOutstationWriter, Iec104Outstation

MODBUS_SITE = "east"
IEC104_SITE = "south"


@dataclass
class ProtocolOutputs:
    """Where fleet readings go: Modbus registers for the Modbus site, MQTT for the rest when a broker is
    given; whatever is left is returned to be posted over HTTP."""

    mqtt: MqttFleetPublisher | None = None
    modbus: FleetRegisterWriter | None = None
    modbus_server: ModbusTcpSimulator | None = None
    iec104: FleetOutstationWriter | None = None
    iec104_outstation: Iec104Outstation | None = None
    # Settings sections that switch GridOS's connectors on for these outputs (gridos.config.Settings.replace).
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    tmpdir: tempfile.TemporaryDirectory[str] | None = None

    def send(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if self.modbus is not None:
            self.modbus.write(batch)
            batch = [i for i in batch if i["device_id"] not in self.modbus.by_id]
        if self.iec104 is not None:
            self.iec104.write(batch)
            batch = [i for i in batch if i["device_id"] not in self.iec104.by_device]
        if self.mqtt is not None:
            self.mqtt.publish(batch)
            return []
        return batch

    def prime(self, batch: list[dict[str, Any]]) -> None:
        """Fill the Modbus registers and the RTU's points before GridOS first reads them: a poll of
        never-written registers, or a general interrogation of never-set points, would store zeros as good
        values."""
        if self.modbus is not None:
            self.modbus.write(batch)
        if self.iec104 is not None:
            self.iec104.write(batch)

    def close(self) -> None:
        if self.mqtt:
            self.mqtt.close()
        if self.modbus_server:
            self.modbus_server.stop()
        if self.iec104_outstation:
            self.iec104_outstation.close()
        if self.tmpdir is not None:
            self.tmpdir.cleanup()


def _workdir(out: ProtocolOutputs, directory: Path | None) -> Path:
    """Where the generated maps are written: the caller's directory (the demo: its data directory, files
    replaced on every run), else one temporary directory removed again by close()."""
    if directory is None:
        if out.tmpdir is None:
            out.tmpdir = tempfile.TemporaryDirectory(prefix="gridos-demo-")
        directory = Path(out.tmpdir.name)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _site_sample(site: str) -> list[dict[str, Any]]:
    """One tick of the fleet's devices at `site`: what the generated Modbus or IEC 104 map is built from."""
    return [i for i in FleetSimulator(seed=0).tick() if i["device_id"].startswith(f"{site}/")]


def _serve(start: Callable[[], object], where: str) -> None:
    """Start a simulated server; its RuntimeError (port taken) becomes an OSError with a one-line message."""
    try:
        start()
    except RuntimeError as exc:
        raise OSError(f"cannot serve {where}: {exc}") from None


def _write_map(doc: Any, path: Path) -> Path:
    with path.open("w") as f:
        YAML().dump(doc, f)
    return path


def prepare(
    mqtt_broker: str | None,
    modbus_port: int | None,
    interval: float,
    workdir: Path | None = None,
    iec104_port: int | None = None,
) -> ProtocolOutputs:
    """Raises ValueError (bad broker address) or OSError (Modbus or IEC 104 port taken) with a one-line
    message."""
    out = ProtocolOutputs()
    directory = workdir
    if mqtt_broker:
        host, port = parse_address(mqtt_broker)
        out.sections["mqtt"] = {"enabled": True, "host": host, "port": port}
        out.mqtt = MqttFleetPublisher(host, port)
        out.notes.append(f"fleet publishes over MQTT to {host}:{port} (gridos/<site>/<device>/telemetry)")
    if modbus_port:
        doc = fleet_register_map(
            _site_sample(MODBUS_SITE), "127.0.0.1", modbus_port, poll_interval_s=interval
        )
        devices = parse_register_map(doc, build_catalogue())
        server = ModbusTcpSimulator(modbus_port, units=[d.unit for d in devices])
        _serve(server.start, f"Modbus TCP on 127.0.0.1:{modbus_port}")
        path = _write_map(doc, _workdir(out, directory) / "demo-modbus-registers.yaml")
        out.modbus_server = server
        out.modbus = FleetRegisterWriter(devices, server.banks)
        out.sections["modbus"] = {"enabled": True, "register_map": path}
        out.notes.append(
            f"site '{MODBUS_SITE}' ({len(devices)} devices) served as Modbus TCP on 127.0.0.1:{modbus_port}, "
            f"polled by GridOS (register map {path})"
        )
    if iec104_port:
        require_c104()
        from gridos.simulator.iec104 import FleetOutstationWriter, Iec104Outstation, fleet_point_map

        doc = fleet_point_map(_site_sample(IEC104_SITE), "127.0.0.1", iec104_port, name=f"{IEC104_SITE}-rtu")
        (link,) = parse_point_map(doc, build_catalogue())
        outstation = Iec104Outstation(link)
        _serve(outstation.start, f"IEC 104 on 127.0.0.1:{iec104_port}")
        path = _write_map(doc, _workdir(out, directory) / "demo-iec104-points.yaml")
        out.iec104_outstation = outstation
        out.iec104 = FleetOutstationWriter([outstation])
        out.sections["iec104"] = {"enabled": True, "point_map": path}
        out.notes.append(
            f"site '{IEC104_SITE}' ({len(link.device_ids)} devices, {len(link.points)} points) served as an "
            f"IEC 60870-5-104 outstation on 127.0.0.1:{iec104_port} (point map {path})"
        )
    return out
