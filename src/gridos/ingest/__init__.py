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

from gridos.ingest.config import ConnectorConfigError

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
        from gridos.ingest.leader import LeaderLock
        from gridos.ingest.modbus import ModbusPoller
        from gridos.ingest.registermap import load_register_map

        assert modbus_settings.register_map is not None
        if settings.workers > 1 and not settings.is_postgres:
            raise ConnectorConfigError(
                "GRIDOS_MODBUS_ENABLED with GRIDOS_WORKERS > 1 needs PostgreSQL (its lock makes one worker poll)"
            )
        devices = load_register_map(modbus_settings.register_map, services.telemetry.catalogue)
        connectors["modbus"] = ModbusPoller(
            devices,
            services.telemetry,
            services.metrics,
            lambda: services.alarms,
            leader=LeaderLock(services.engine),
            leader_check_s=modbus_settings.leader_check_seconds,
        )

    if iec104_settings.enabled:
        from gridos.db import locks
        from gridos.ingest.iec104 import Iec104Client
        from gridos.ingest.iec104map import load_point_map
        from gridos.ingest.leader import LeaderLock

        assert iec104_settings.point_map is not None
        if settings.workers > 1 and not settings.is_postgres:
            raise ConnectorConfigError(
                "GRIDOS_IEC104_ENABLED with GRIDOS_WORKERS > 1 needs PostgreSQL (its lock makes one worker connect)"
            )
        links = load_point_map(iec104_settings.point_map, services.telemetry.catalogue)
        connectors["iec104"] = Iec104Client(
            links,
            services.telemetry,
            services.metrics,
            lambda: services.alarms,
            leader=LeaderLock(services.engine, key=locks.IEC104_POLLING),
            leader_check_s=iec104_settings.leader_check_seconds,
            max_batch_samples=iec104_settings.max_batch_samples,
            max_pending_samples=iec104_settings.max_pending_samples,
        )

    if opcua_settings.enabled:
        from gridos.ingest.opcua import OpcUaServer

        if settings.workers > 1:
            raise ConnectorConfigError(
                "GRIDOS_OPCUA_ENABLED needs GRIDOS_WORKERS=1 (every worker would bind the same OPC UA port)"
            )
        connectors["opcua"] = OpcUaServer(
            opcua_settings,
            services.settings.token_roles,
            services.engine,
            services.registry,
            services.telemetry,
            lambda: services.alarms,
        )

    for name, connector in connectors.items():
        _attach(services, name, connector)


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
