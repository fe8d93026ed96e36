"""The services of one app, built once by gridos.app.create_app and kept on `app.state.services` (the only
attribute there). Routes get them through gridos.deps; background code is handed what it needs."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from gridos.alarms.service import AlarmService
    from gridos.archive.archiver import Archiver
    from gridos.background import Jobs
    from gridos.config import Settings
    from gridos.devices.service import DeviceRegistry
    from gridos.health.service import HealthChecker
    from gridos.identity.service import IdentityService
    from gridos.ingest.iec104 import Iec104Client
    from gridos.ingest.modbus import ModbusPoller
    from gridos.ingest.mqtt import MqttConnector
    from gridos.ingest.opcua import OpcUaServer
    from gridos.observability.metrics import Metrics
    from gridos.telemetry.service import TelemetryService
    from gridos.web.live import LiveFeed

Hook = Callable[[Any], Awaitable[None]]  # called with the app


@dataclass
class Services:
    settings: Settings
    engine: Engine
    metrics: Metrics
    registry: DeviceRegistry
    telemetry: TelemetryService
    health: HealthChecker
    jobs: Jobs
    # Built by the features' install() functions (None while a feature is off or not installed).
    identity: IdentityService | None = None
    alarms: AlarmService | None = None
    archiver: Archiver | None = None
    live: LiveFeed | None = None
    mqtt: MqttConnector | None = None
    modbus: ModbusPoller | None = None
    iec104: Iec104Client | None = None
    opcua: OpcUaServer | None = None
    # Start-up runs these in order after the migrations; shutdown runs its list in reverse, then stops
    # the background jobs and disposes of the engine.
    startup_hooks: list[Hook] = field(default_factory=list)
    shutdown_hooks: list[Hook] = field(default_factory=list)
