"""Field protocols feeding telemetry.service: MQTT (subscription) and Modbus TCP (polling).

Both are off by default and configured from GRIDOS_MQTT_* / GRIDOS_MODBUS_* (gridos.ingest.config).
`install(app)` builds them from the environment, reports them in /health/ready and starts and stops them
with the app.
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from gridos.ingest.config import ConnectorConfigError, ModbusSettings, MqttSettings


def _disabled() -> dict[str, Any]:
    return {"status": "disabled"}


def _load(cls: type[MqttSettings] | type[ModbusSettings]) -> Any:
    try:
        return cls()
    except ValidationError as exc:
        e = exc.errors()[0]
        prefix = cls.model_config.get("env_prefix", "")
        where = f"{prefix}{str(e['loc'][0]).upper()}: " if e["loc"] else ""
        raise ConnectorConfigError(f"{where}{e['msg']}") from None


def install(app: FastAPI) -> None:
    """Attach the connectors: readiness details, start/stop hooks; nothing runs until start-up."""
    mqtt_settings: MqttSettings = _load(MqttSettings)
    modbus_settings: ModbusSettings = _load(ModbusSettings)
    health = app.state.health
    app.state.mqtt = None
    app.state.modbus = None

    if mqtt_settings.enabled:
        from gridos.ingest.mqtt import MqttConnector

        if app.state.settings.workers > 1:
            # Every uvicorn worker builds its own app: one client id each, or the broker would keep
            # disconnecting one session in favour of the other. Such sessions are not resumed after a
            # restart (docs/runbooks/connectors.md): run one worker per replica with MQTT.
            mqtt_settings.client_id = f"{mqtt_settings.client_id}-{os.getpid()}"

        connector = MqttConnector(mqtt_settings, app.state.telemetry, app.state.metrics)
        app.state.mqtt = connector
        health.extra["mqtt"] = connector.health

        async def start_mqtt(app: FastAPI) -> None:
            connector.start()

        async def stop_mqtt(app: FastAPI) -> None:
            await run_in_threadpool(connector.stop)

        app.state.startup_hooks.append(start_mqtt)
        app.state.shutdown_hooks.append(stop_mqtt)
    else:
        health.extra["mqtt"] = _disabled

    if modbus_settings.enabled:
        from gridos.ingest.modbus import ModbusPoller
        from gridos.ingest.registermap import load_register_map

        assert modbus_settings.register_map is not None
        devices = load_register_map(modbus_settings.register_map, app.state.telemetry.catalogue)
        poller = ModbusPoller(
            devices, app.state.telemetry, app.state.metrics, lambda: getattr(app.state, "alarms", None)
        )
        app.state.modbus = poller
        health.extra["modbus"] = poller.health

        async def start_modbus(app: FastAPI) -> None:
            poller.start()

        async def stop_modbus(app: FastAPI) -> None:
            await run_in_threadpool(poller.stop)

        app.state.startup_hooks.append(start_modbus)
        app.state.shutdown_hooks.append(stop_modbus)
    else:
        health.extra["modbus"] = _disabled
