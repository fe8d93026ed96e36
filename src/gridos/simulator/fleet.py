"""A simulated fleet: three substations, ~60 devices, realistic readings.

Load follows a daily curve (low at 04:00, peak at 19:00) with noise; voltage drops with load;
frequency random-walks around nominal; now and then one feeder or meter sees a short voltage sag and
one transformer runs warm (see the rates below). The simulator talks to GridOS over HTTP like any other
producer.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

log = logging.getLogger("gridos.simulator")


@dataclass
class SimDevice:
    id: str
    type: str
    site: str
    nominal_voltage: float
    rated_current: float | None = None
    rated_power: float | None = None
    nominal_frequency: int = 50
    upstream: tuple[str, ...] = ()
    state: dict[str, float] = field(default_factory=dict)

    def spec(self, interval: float) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "site": self.site,
            "nominal_voltage": self.nominal_voltage,
            "nominal_frequency": self.nominal_frequency,
            "expected_interval_s": interval,
            "tags": {"simulated": "true"},
        }
        if self.rated_current:
            body["rated_current"] = self.rated_current
        if self.rated_power:
            body["rated_power"] = self.rated_power
        if self.upstream:
            body["upstream"] = list(self.upstream)
        return body


SITES = ("north", "south", "east")


def build_fleet(sites: tuple[str, ...] = SITES) -> list[SimDevice]:
    """Each site: two grid transformers, each through an incomer breaker (cb-1, cb-2) onto the 11 kV bus;
    four outgoing breakers (cb-3..cb-6) each feed two feeders; a meter at the end of feeder-1 and feeder-5;
    east also has a generator on its bus. Listed source side first: every upstream is registered first."""
    fleet: list[SimDevice] = []
    for site in sites:
        for i in (1, 2):
            fleet.append(SimDevice(f"{site}/tx-{i}", "transformer", site, 11_000, 1_050, 20_000))
        for i in (1, 2):
            fleet.append(
                SimDevice(f"{site}/cb-{i}", "breaker", site, 11_000, 630, upstream=(f"{site}/tx-{i}",))
            )
        sources: tuple[str, ...] = (f"{site}/cb-1", f"{site}/cb-2")
        if site == "east":
            fleet.append(SimDevice("east/gen-1", "generator", "east", 11_000, 525, 10_000))
            sources += ("east/gen-1",)
        fleet.append(SimDevice(f"{site}/bus-1", "bus", site, 11_000, upstream=sources))
        for i in range(3, 7):
            fleet.append(
                SimDevice(f"{site}/cb-{i}", "breaker", site, 11_000, 630, upstream=(f"{site}/bus-1",))
            )
        for i in range(1, 9):
            breaker = f"{site}/cb-{3 + (i - 1) // 2}"
            fleet.append(
                SimDevice(f"{site}/feeder-{i}", "feeder", site, 11_000, 400, 7_600, upstream=(breaker,))
            )
        for i, feeder in ((1, 1), (2, 5)):
            fleet.append(
                SimDevice(
                    f"{site}/meter-{i}", "meter", site, 400, 200, 140, upstream=(f"{site}/feeder-{feeder}",)
                )
            )
    return fleet


def load_factor(now: datetime) -> float:
    """0.35 .. 0.95 over a day: trough at 04:00, evening peak at 19:00."""
    hour = now.hour + now.minute / 60
    return (
        0.65
        + 0.22 * math.sin((hour - 10) / 24 * 2 * math.pi)
        + 0.08 * math.sin((hour - 16) / 12 * 2 * math.pi)
    )


# A healthy grid with occasional, explainable events (a demo in permanent alarm flood teaches nothing):
# every value sits well inside the default limits of gridos.alarms.rules.default_specs, except during
# these events, each on one device at a time and logged when it starts. Rates are per hour of simulated
# time, whatever the interval.
SAGS_PER_HOUR = 2.0  # a voltage sag on one feeder or meter: ~0.93 pu for 4-10 s (one low alarm)
SAG_PU = (0.925, 0.94)  # below the 0.95 pu low limit, above the 0.90 pu low-low limit
HOT_EPISODES_PER_HOUR = 0.5  # one transformer runs hot for ~10 minutes (a high alarm at peak load)
HOT_RISE_DEGC = 22.0
HOT_EPISODE_S = 600.0


class FleetSimulator:
    def __init__(
        self, fleet: list[SimDevice] | None = None, seed: int | None = None, interval: float = 2.0
    ) -> None:
        self.fleet = fleet or build_fleet()
        self.rng = random.Random(seed)
        self.interval = interval
        self.frequency = {site: 50.0 for site in {d.site for d in self.fleet}}
        self.sagging: dict[str, tuple[int, float]] = {}  # device id -> (ticks left, pu)
        self.hot: dict[str, int] = {}  # transformer id -> ticks into its episode
        self._sag_candidates = [d.id for d in self.fleet if d.type in ("feeder", "meter")]
        self._transformers = [d.id for d in self.fleet if d.type == "transformer"]

    def _chance(self, per_hour: float) -> bool:
        return self.rng.random() < per_hour * self.interval / 3600

    def _events(self) -> None:
        rng = self.rng
        for device_id, (left, pu) in list(self.sagging.items()):
            if left <= 1:
                del self.sagging[device_id]
            else:
                self.sagging[device_id] = (left - 1, pu)
        if not self.sagging and self._sag_candidates and self._chance(SAGS_PER_HOUR):
            device_id = rng.choice(self._sag_candidates)
            seconds = rng.uniform(4, 10)
            pu = rng.uniform(*SAG_PU)
            self.sagging[device_id] = (max(1, round(seconds / self.interval)), pu)
            log.info(
                "simulated voltage sag",
                extra={"device_id": device_id, "pu": round(pu, 3), "seconds": round(seconds)},
            )
        episode_ticks = max(1, round(HOT_EPISODE_S / self.interval))
        for device_id, tick in list(self.hot.items()):
            if tick + 1 >= episode_ticks:
                del self.hot[device_id]
            else:
                self.hot[device_id] = tick + 1
        if not self.hot and self._transformers and self._chance(HOT_EPISODES_PER_HOUR):
            device_id = rng.choice(self._transformers)
            self.hot[device_id] = 0
            log.info("simulated transformer over-temperature", extra={"device_id": device_id})

    def tick(self, now: datetime | None = None) -> list[dict[str, Any]]:
        now = now or datetime.now(UTC)
        rng = self.rng
        load = load_factor(now)
        for site in self.frequency:
            f = self.frequency[site] + rng.gauss(0, 0.004) - (self.frequency[site] - 50.0) * 0.1
            self.frequency[site] = f
        self._events()
        episode_ticks = max(1, round(HOT_EPISODE_S / self.interval))
        ts = now.isoformat()
        batch = []
        for d in self.fleet:
            pu = 1.02 - 0.04 * load + rng.gauss(0, 0.003)
            if d.id in self.sagging:
                pu = self.sagging[d.id][1] + rng.gauss(0, 0.002)
            item: dict[str, Any] = {"device_id": d.id, "timestamp": ts}
            if d.type in ("bus", "transformer", "feeder", "meter", "generator"):
                item["voltage"] = round(d.nominal_voltage * pu, 2)
            if d.type in ("bus", "generator"):
                item["frequency"] = round(self.frequency[d.site], 4)
            if d.rated_current:
                # At most ~85% of rating at the evening peak: the 100% high limit is for real overloads.
                share = 0.85 * load * (1 + rng.gauss(0, 0.02))
                current = max(0.0, d.rated_current * share * (0.75 if d.type == "breaker" else 1.0))
                item["current"] = round(current, 2)
            if d.type in ("feeder", "meter", "generator", "transformer"):
                # Well above the 0.90 low limit (a compensated network), a little lower at peak load.
                pf = min(0.999, max(0.93, 0.97 + rng.gauss(0, 0.004) - (0.01 if load > 0.85 else 0)))
                s_kva = math.sqrt(3) * d.nominal_voltage * item.get("current", 0.0) / 1000
                item["power_factor"] = round(pf, 4)
                item["active_power"] = round(s_kva * pf, 2)
                item["reactive_power"] = round(s_kva * math.sqrt(1 - pf * pf), 2)
            if d.type == "transformer":
                base = 55 + 35 * load
                rise = 0.0
                if d.id in self.hot:
                    rise = HOT_RISE_DEGC * math.sin(math.pi * self.hot[d.id] / episode_ticks)
                item["temperature"] = round(base + rise + rng.gauss(0, 0.3), 2)
            if d.type == "breaker":
                closed = d.state.get("closed", 1.0)
                if rng.random() < 0.0005:
                    closed = 1.0 - closed
                d.state["closed"] = closed
                item["breaker_closed"] = bool(closed)
                if not closed:
                    item["current"] = 0.0
            batch.append(item)
        return batch


def register_fleet(client: httpx.Client, fleet: list[SimDevice], admin_token: str, interval: float) -> None:
    headers = {"Authorization": f"Bearer {admin_token}"}
    for d in fleet:
        r = client.put(f"/api/v1/devices/{d.id}", json=d.spec(interval), headers=headers)
        r.raise_for_status()


def register_in_process(registry: Any, fleet: list[SimDevice], interval: float) -> None:
    """Register the fleet straight into a DeviceRegistry (the demo does this before its connectors
    start, so the first Modbus poll or MQTT message already finds every device)."""
    from gridos.devices.schemas import DeviceFields

    for d in fleet:
        registry.put(d.id, DeviceFields.model_validate(d.spec(interval)))


def run(
    url: str,
    ingest_token: str,
    admin_token: str,
    interval: float,
    stop: threading.Event,
    outputs: Any = None,
    simulator: FleetSimulator | None = None,
) -> None:
    """Register the fleet (unless `simulator` is given: its fleet is registered already), then every
    `interval` send one reading per device: over HTTP by default, or through `outputs`
    (gridos.simulator.protocols.ProtocolOutputs: MQTT publisher, Modbus registers)."""
    sim = simulator or FleetSimulator(interval=interval)
    with httpx.Client(base_url=url, timeout=10) as client:
        while not stop.is_set():
            try:
                if client.get("/health/live").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            stop.wait(0.2)
        if simulator is None:
            register_fleet(client, sim.fleet, admin_token, interval)
        log.info("simulator started", extra={"devices": len(sim.fleet), "interval_s": interval})
        headers = {"Authorization": f"Bearer {ingest_token}"}
        while not stop.is_set():
            started = time.monotonic()
            batch = sim.tick()
            if outputs is not None:
                batch = outputs.send(batch)
            try:
                if batch:
                    r = client.post("/api/v1/scada/data", json=batch, headers=headers)
                    if r.status_code != 200:
                        log.warning(
                            "simulator batch rejected", extra={"status": r.status_code, "body": r.text[:300]}
                        )
            except httpx.HTTPError as exc:
                log.warning("simulator could not reach GridOS", extra={"error": str(exc)})
            stop.wait(max(0.0, interval - (time.monotonic() - started)))


def run_in_background(
    url: str,
    ingest_token: str,
    admin_token: str,
    interval: float,
    outputs: Any = None,
    simulator: FleetSimulator | None = None,
) -> threading.Event:
    stop = threading.Event()
    threading.Thread(
        target=run,
        args=(url, ingest_token, admin_token, interval, stop, outputs, simulator),
        name="simulator",
        daemon=True,
    ).start()
    return stop
