"""Field protocols feeding telemetry.service: MQTT (subscription), Modbus TCP (polling) and IEC 60870-5-104
(controlling station); and the OPC UA server that lets other systems read GridOS.

All are off by default and configured from GRIDOS_MQTT_* / GRIDOS_MODBUS_* / GRIDOS_IEC104_* /
GRIDOS_OPCUA_* (gridos.ingest.config: sections of gridos.config.Settings).
`install(app, services)` builds them from those sections (services.mqtt, ...), reports them in
/health/ready and starts and stops them with the app.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from gridos.ingest.config import ConnectorConfigError, require_c104

if TYPE_CHECKING:
    from gridos.services import Services


def _disabled() -> dict[str, Any]:
    return {"status": "disabled"}


def install(app: FastAPI, services: Services) -> None:
    """Attach the connectors: readiness details, start/stop hooks; nothing runs until start-up."""
    settings = services.settings
    mqtt_settings = settings.mqtt
    modbus_settings = settings.modbus
    iec104_settings = settings.iec104
    opcua_settings = settings.opcua
    connectors: dict[str, Any] = {"mqtt": None, "modbus": None, "iec104": None, "opcua": None}

    if mqtt_settings.enabled:
        from gridos.ingest.mqtt import MqttConnector

        if settings.workers > 1:
            # Every uvicorn worker builds its own app: one client id each, or the broker would keep
            # disconnecting one session in favour of the other. Such sessions are not resumed after a
            # restart (docs/runbooks/connectors.md): run one worker per replica with MQTT.
            mqtt_settings = mqtt_settings.model_copy(
                update={"client_id": f"{mqtt_settings.client_id}-{os.getpid()}"}
            )
        connectors["mqtt"] = MqttConnector(mqtt_settings, services.telemetry, services.metrics)

    if modbus_settings.enabled:
        from gridos.db import locks
        from gridos.ingest.modbus import ModbusPoller
        from gridos.ingest.registermap import load_register_map

        assert modbus_settings.register_map is not None
        polling = _polling(
            services, "MODBUS", "poll", locks.MODBUS_POLLING, modbus_settings.leader_check_seconds
        )
        devices = load_register_map(modbus_settings.register_map, services.telemetry.catalogue)
        connectors["modbus"] = ModbusPoller(devices, **polling)

    if iec104_settings.enabled:
        require_c104()
        from gridos.db import locks
        from gridos.ingest.iec104 import Iec104Client
        from gridos.ingest.iec104map import load_point_map

        assert iec104_settings.point_map is not None
        polling = _polling(
            services, "IEC104", "connect", locks.IEC104_POLLING, iec104_settings.leader_check_seconds
        )
        links = load_point_map(iec104_settings.point_map, services.telemetry.catalogue)
        connectors["iec104"] = Iec104Client(
            links,
            **polling,
            max_batch_samples=iec104_settings.max_batch_samples,
            max_pending_samples=iec104_settings.max_pending_samples,
        )

    if opcua_settings.enabled:
        from gridos.ingest.opcua import OpcUaServer, OpcUaSources

        if settings.workers > 1:
            raise ConnectorConfigError(
                "GRIDOS_OPCUA_ENABLED needs GRIDOS_WORKERS=1 (every worker would bind the same OPC UA port)"
            )
        sources = OpcUaSources(
            services.settings.token_roles,
            services.engine,
            services.registry,
            services.telemetry,
            lambda: services.alarms,
        )
        connectors["opcua"] = OpcUaServer(opcua_settings, sources)

    for name, connector in connectors.items():
        _attach(services, name, connector)


def _polling(services: Services, protocol: str, work: str, key: int, leader_check_s: float) -> dict[str, Any]:
    """The arguments every polling connector (Modbus, IEC 104) takes: the services it feeds and the leader
    lock that makes one worker `work` (only PostgreSQL shares that lock between GRIDOS_WORKERS)."""
    from gridos.ingest.leader import LeaderLock

    if services.settings.workers > 1 and not services.settings.is_postgres:
        raise ConnectorConfigError(
            f"GRIDOS_{protocol}_ENABLED with GRIDOS_WORKERS > 1 needs PostgreSQL (its lock makes one worker {work})"
        )
    return {
        "telemetry": services.telemetry,
        "metrics": services.metrics,
        "alarms": lambda: services.alarms,
        "leader": LeaderLock(services.engine, key=key),
        "leader_check_s": leader_check_s,
    }


def _attach(services: Services, name: str, connector: Any) -> None:
    """services.<name>, readiness check `name`, started with the app and stopped before the engine."""
    setattr(services, name, connector)
    if connector is None:
        services.health.extra[name] = _disabled
        return
    services.health.extra[name] = connector.health

    async def start(app: FastAPI) -> None:
        connector.start()

    async def stop(app: FastAPI) -> None:
        await run_in_threadpool(connector.stop)

    services.startup_hooks.append(start)
    services.shutdown_hooks.append(stop)
