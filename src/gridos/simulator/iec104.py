"""An IEC 60870-5-104 outstation (c104 server) whose points hold simulated readings.

`Iec104Outstation` serves one link of a point map (gridos.ingest.iec104map) on 127.0.0.1: `update()` sets
a point and reports it spontaneously, with a time tag for the time-tagged types. Like a real RTU it keeps
the events it could not send while no controlling station was connected (its event buffer) and sends
them, with their original time tags, once one is; interrogations are answered by c104 from the points'
current values. `FleetOutstationWriter` fills outstations from the fleet simulator through the same point
map GridOS reads, so `gridos demo --iec104` exercises the real protocol path end to end.
"""

import datetime as dt
import logging
import threading
from collections import deque
from typing import Any

import c104

from gridos.ingest.iec104map import Iec104Link, Iec104Point, PointFamily

log = logging.getLogger("gridos.simulator.iec104")
UTC = dt.UTC


def information(point: Iec104Point, value: float | bool | c104.Double, quality: int, at: dt.datetime) -> Any:
    """The c104 Information a point of this type carries for an engineering value."""
    q = c104.Quality(quality)  # type: ignore[call-arg]  # the stub omits the int constructor
    family = point.family
    if family is PointFamily.single:
        return c104.SingleInfo(on=bool(value), quality=q, recorded_at=at)
    if family is PointFamily.double:
        state = value if isinstance(value, c104.Double) else (c104.Double.ON if value else c104.Double.OFF)
        return c104.DoubleInfo(state=state, quality=q, recorded_at=at)
    assert not isinstance(value, c104.Double)
    raw = (float(value) - point.offset) / point.scale
    if point.type in ("M_ME_NB_1", "M_ME_TE_1"):
        return c104.ScaledInfo(
            actual=c104.Int16(max(-32768, min(32767, round(raw)))), quality=q, recorded_at=at
        )
    if point.type in ("M_ME_NA_1", "M_ME_TD_1"):
        return c104.NormalizedInfo(
            actual=c104.NormalizedFloat(max(-1.0, min(raw, 1.0))), quality=q, recorded_at=at
        )
    return c104.ShortInfo(actual=raw, quality=q, recorded_at=at)


class Iec104Outstation:
    def __init__(self, link: Iec104Link, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.link = link
        self.host, self.port = host, port or link.port
        self.server = c104.Server(ip=host, port=self.port, tick_rate_ms=50, max_connections=0)
        station = self.server.add_station(common_address=link.common_address)
        assert station is not None
        self.points: dict[int, c104.Point] = {}
        self.mapped: dict[int, Iec104Point] = {p.ioa: p for p in link.points}
        for p in link.points:
            sp = station.add_point(io_address=p.ioa, type=getattr(c104.Type, p.type))
            assert sp is not None
            self.points[p.ioa] = sp
        self.clock_syncs: list[dt.datetime] = []

        def on_clock_sync(server: c104.Server, ip: str, date_time: dt.datetime) -> c104.ResponseState:
            self.clock_syncs.append(date_time)
            return c104.ResponseState.SUCCESS

        self.server.on_clock_sync(on_clock_sync)
        self.buffer: deque[int] = deque()  # IOAs whose events wait for a controlling station, in order
        self._infos: deque[Any] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._flusher: threading.Thread | None = None
        self.sent = 0

    def start(self) -> "Iec104Outstation":
        self.server.start()
        if not self.server.is_running:
            raise RuntimeError(f"IEC 104 outstation did not start on {self.host}:{self.port}")
        if self._flusher is None:
            self._stop.clear()
            self._flusher = threading.Thread(
                target=self._flush_loop, name=f"iec104-sim-{self.port}", daemon=True
            )
            self._flusher.start()
        return self

    def stop(self) -> None:
        """Closes the port: connected stations see the link drop. start() again to bring it back."""
        self.server.stop()

    def close(self) -> None:
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(5)
            self._flusher = None
        self.server.stop()

    def __enter__(self) -> "Iec104Outstation":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return bool(self.server.has_active_connections)

    def update(
        self,
        ioa: int,
        value: float | bool | c104.Double,
        quality: int = 0,
        at: dt.datetime | None = None,
        spontaneous: bool = True,
    ) -> None:
        """Set a point (engineering value, quality descriptor bits, time tag) and report the change."""
        info = information(self.mapped[ioa], value, quality, at or dt.datetime.now(UTC))
        with self._lock:
            point = self.points[ioa]
            if not spontaneous:
                point.info = info
                return
            if self.buffer or not self.connected:
                self.buffer.append(ioa)  # kept, with its own time tag, for when a station connects
                self._infos.append(info)
                return
            point.info = info
            if point.transmit(cause=c104.Cot.SPONTANEOUS):
                self.sent += 1
            else:
                self.buffer.append(ioa)
                self._infos.append(info)

    def update_many(self, values: list[tuple[int, float | bool]], at: dt.datetime | None = None) -> None:
        """Set several points at once (one time tag) and report them in batches of one type each, as an
        RTU does for a scan: a few ASDUs instead of one per point."""
        when = at or dt.datetime.now(UTC)
        with self._lock:
            if self.buffer or not self.connected:
                for ioa, value in values:
                    info = information(self.mapped[ioa], value, 0, when)
                    self.buffer.append(ioa)
                    self._infos.append(info)
                    # The point holds its current value meanwhile: a general interrogation on (re)connect
                    # answers the present state, the buffered events replay the history behind it.
                    self.points[ioa].info = information(self.mapped[ioa], value, 0, when)
                return
            by_type: dict[str, list[c104.Point]] = {}
            for ioa, value in values:
                point = self.points[ioa]
                point.info = information(self.mapped[ioa], value, 0, when)
                by_type.setdefault(self.mapped[ioa].type, []).append(point)
            for points in by_type.values():
                if self.server.transmit_batch(c104.Batch(cause=c104.Cot.SPONTANEOUS, points=points)):
                    self.sent += len(points)
                else:  # the link went away meanwhile: their current values go out with the next GI
                    log.debug("iec104 batch not sent", extra={"points": len(points)})

    def _flush_loop(self) -> None:
        while not self._stop.wait(0.05):
            if not self.buffer or not self.connected:
                continue
            with self._lock:
                while self.buffer and self.connected:
                    point = self.points[self.buffer[0]]
                    point.info = self._infos[0]
                    if not point.transmit(cause=c104.Cot.SPONTANEOUS):
                        break
                    self.buffer.popleft()
                    self._infos.popleft()
                    self.sent += 1


class FleetOutstationWriter:
    """Writes fleet readings (items in the REST schema) into outstations' points, through the point map."""

    def __init__(self, outstations: list[Iec104Outstation]) -> None:
        self.by_device: dict[str, list[tuple[Iec104Outstation, Iec104Point]]] = {}
        for o in outstations:
            for p in o.link.points:
                self.by_device.setdefault(p.device_id, []).append((o, p))

    def write(self, items: list[dict[str, Any]]) -> int:
        scans: dict[int, tuple[Iec104Outstation, list[tuple[int, float | bool]]]] = {}
        for item in items:
            for outstation, point in self.by_device.get(item["device_id"], []):
                value = item.get(point.measurement)
                if value is not None:
                    scans.setdefault(id(outstation), (outstation, []))[1].append((point.ioa, value))
        for outstation, values in scans.values():
            outstation.update_many(values)
        return sum(len(v) for _, v in scans.values())


# How the simulated fleet's measurements are typed on the wire: time-tagged floats, a scaled value and
# double points for the breakers, so that the demo exercises what GridOS does for real RTUs.
FLEET_POINTS: dict[str, dict[str, Any]] = {
    "voltage": {"type": "M_ME_TF_1"},
    "current": {"type": "M_ME_TF_1"},
    "active_power": {"type": "M_ME_TF_1"},
    "reactive_power": {"type": "M_ME_TF_1"},
    "power_factor": {"type": "M_ME_NB_1", "scale": 0.0001},
    "frequency": {"type": "M_ME_TF_1"},
    "temperature": {"type": "M_ME_NC_1"},
    "breaker_closed": {"type": "M_DP_TB_1"},
}


def fleet_point_map(sample_items: list[dict[str, Any]], host: str, port: int, name: str) -> dict[str, Any]:
    """A point-map document (the YAML GridOS reads): one link serving the devices of `sample_items`,
    IOAs numbered 100 per device, mapping the measurements each device actually reports."""
    points = []
    for d, item in enumerate(sample_items):
        for m, (measurement, spec) in enumerate(FLEET_POINTS.items()):
            if item.get(measurement) is not None:
                points.append(
                    {
                        "ioa": 1000 + 100 * d + m,
                        "device_id": item["device_id"],
                        "measurement": measurement,
                        **spec,
                    }
                )
    return {"links": [{"name": name, "host": host, "port": port, "common_address": 1, "points": points}]}
