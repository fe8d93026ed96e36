"""The simulator as an MQTT publisher: one QoS 1 message per device and tick on
`gridos/<site>/<device>/telemetry`, carrying the REST API's JSON object."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

log = logging.getLogger("gridos.simulator.mqtt")


def topic_for(device_id: str, prefix: str = "gridos") -> str:
    """`north/tx-1` -> `gridos/north/tx-1/telemetry`; an id without a site goes under `default`."""
    site, _, name = device_id.rpartition("/")
    return f"{prefix}/{site.replace('/', '_') or 'default'}/{name}/telemetry"


def parse_address(address: str, default_port: int = 1883) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid broker address {address!r}: expected host:port")
    return host or "127.0.0.1", int(port)


class MqttFleetPublisher:
    def __init__(self, host: str, port: int, client_id: str | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"gridos-simulator-{secrets.token_hex(3)}",
            protocol=mqtt.MQTTv5,
        )
        self.client.reconnect_delay_set(1, 10)
        self.client.connect_async(host, port)
        self.client.loop_start()

    def publish(self, items: list[dict[str, Any]]) -> int:
        for item in items:
            self.client.publish(topic_for(item["device_id"]), orjson.dumps(item), qos=1)
        return len(items)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
