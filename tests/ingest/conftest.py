"""Fixtures of the connector tests: a real Mosquitto broker per test, GridOS apps with MQTT enabled,
MQTT publishers and subscribers (paho, MQTT 5), and row counts read straight from the database."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy import text

from gridos.app import create_app
from tests.conftest import Tokens
from tests.support.mosquitto import MosquittoBroker, mosquitto_available, running_mosquitto


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[MosquittoBroker]:
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (make system-deps)")
    with running_mosquitto(tmp_path / "mosquitto") as b:
        yield b


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def mqtt_env(broker: MosquittoBroker, **extra: str) -> dict[str, str]:
    env = {
        "GRIDOS_MQTT_ENABLED": "true",
        "GRIDOS_MQTT_HOST": broker.host,
        "GRIDOS_MQTT_PORT": str(broker.port),
        "GRIDOS_MQTT_CLIENT_ID": f"gridos-test-{secrets.token_hex(4)}",
        "GRIDOS_MQTT_RECONNECT_MIN_SECONDS": "1",
        "GRIDOS_MQTT_RECONNECT_MAX_SECONDS": "2",
    }
    env.update(extra)
    return env


@contextmanager
def gridos_app(
    make_settings: Any, tokens: Tokens, env: dict[str, str], **overrides: Any
) -> Iterator[TestClient]:
    """An in-process GridOS (lifespan running, so the connectors run) configured with `env`'s GRIDOS_* values."""
    app = create_app(make_settings(env, **overrides))
    with TestClient(app, headers=tokens.header("admin")) as client:
        yield client


def register(client: TestClient, *device_ids: str) -> None:
    for device_id in device_ids:
        r = client.put(
            f"/api/v1/devices/{device_id}",
            json={"type": "meter", "site": device_id.split("/")[0], "nominal_voltage": 230.0},
        )
        assert r.status_code in (200, 201), r.text


def sample_count(app: Any, source_device_prefix: str = "") -> int:
    with app.state.services.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM samples WHERE device_id LIKE :p"),
                {"p": f"{source_device_prefix}%"},
            ).scalar_one()
        )


def distinct_keys(app: Any) -> int:
    with app.state.services.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM (SELECT DISTINCT device_id, measurement, ts FROM samples) k")
            ).scalar_one()
        )


class Publisher:
    """A persistent-session MQTT 5 publisher: QoS 1 messages published while the broker is away are kept
    by paho and sent after it reconnects."""

    def __init__(self, broker: MosquittoBroker, client_id: str | None = None) -> None:
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"pub-{secrets.token_hex(4)}",
            protocol=mqtt.MQTTv5,
        )
        self.client.max_queued_messages_set(0)
        self.acked: set[int] = set()
        self.client.on_publish = lambda client, userdata, mid, reason, props: self.acked.add(mid)
        self.client.reconnect_delay_set(1, 2)
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect(broker.host, broker.port, clean_start=False, properties=props)
        self.client.loop_start()
        self.infos: list[mqtt.MQTTMessageInfo] = []

    def publish(self, topic: str, payload: Any, qos: int = 1) -> None:
        data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        self.infos.append(self.client.publish(topic, data, qos=qos))

    def wait_all_acked(self, timeout: float = 60.0) -> None:
        # MQTTMessageInfo.is_published() raises for a message queued while disconnected (paho 2.2), even
        # though paho sends it after reconnecting: count PUBACKs instead.
        wait_for(
            lambda: all(i.mid in self.acked for i in self.infos), timeout, "the broker to ack every publish"
        )

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Subscriber:
    """Collects every message on a topic filter (QoS 1)."""

    def __init__(self, broker: MosquittoBroker, topic: str) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"sub-{secrets.token_hex(4)}", protocol=mqtt.MQTTv5
        )
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self._ready.set()
        self.client.connect(broker.host, broker.port)
        self.client.subscribe(topic, qos=1)
        self.client.loop_start()
        assert self._ready.wait(10), "subscription not acknowledged"

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
