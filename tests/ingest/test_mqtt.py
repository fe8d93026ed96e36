"""MQTT ingestion against a real Mosquitto broker: commit-then-ack, dead letters, broker restart, shared
subscriptions, readiness and metrics."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.ingest.conftest import (
    Publisher,
    Subscriber,
    distinct_keys,
    gridos_app,
    item,
    mqtt_env,
    register,
    sample_count,
)
from tests.support.metrics import metric
from tests.support.mosquitto import MosquittoBroker, running_mosquitto
from tests.support.tokens import Tokens
from tests.support.wait import eventually

pytestmark = pytest.mark.mqtt


def test_messages_and_batches_are_committed_once(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    with gridos_app(make_settings, tokens, mqtt_env(broker)) as client:
        register(client, "north/tx-1", "south/feeder-2")
        eventually(lambda: client.app.state.services.mqtt.subscribed, what="the subscription")  # type: ignore[attr-defined]
        pub = Publisher(broker)
        # one object, a JSON array (batch) and NDJSON via the MQTT 5 content type
        pub.publish("gridos/north/tx-1/telemetry", item("north/tx-1", 0, voltage=231.0, current=10.0))
        pub.publish("gridos/south/feeder-2/telemetry", [item("south/feeder-2", i) for i in range(50)])
        # the same batch again: a redelivery stores nothing new
        pub.publish("gridos/south/feeder-2/telemetry", [item("south/feeder-2", i) for i in range(50)])
        pub.wait_all_acked()
        app = client.app
        eventually(lambda: app.state.services.mqtt.messages == 3, what="3 messages handled")  # type: ignore[attr-defined]
        pub.close()
        assert sample_count(app) == 52
        assert distinct_keys(app) == 52
        latest = client.get("/api/v1/devices/north/tx-1/latest").json()["measurements"]
        assert latest["voltage"]["value"] == 231.0
        assert metric(client, "gridos_samples_ingested_total", source="mqtt") == 52
        assert metric(client, "gridos_samples_duplicate_total", source="mqtt") == 50
        assert metric(client, "gridos_connector_messages_total", protocol="mqtt") == 3
        assert metric(client, "gridos_connector_up", protocol="mqtt") == 1
        ready = client.get("/health/ready").json()
        assert ready["status"] == "ready"
        assert ready["checks"]["mqtt"]["connected"] is True
        assert ready["checks"]["mqtt"]["subscription"] == "$share/gridos/gridos/+/+/telemetry"
        assert ready["checks"]["modbus"] == {"status": "disabled"}


def test_malformed_storm_goes_to_dead_letters_without_stalling(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    dead = Subscriber(broker, "gridos/dead-letter")
    bad_payloads: list[bytes] = [
        b"{not json",
        b"",
        orjson.dumps({"device_id": "north/tx-1", "voltage": "high"}),
        orjson.dumps({"device_id": "north/tx-1", "voltage": -5}),
        orjson.dumps({"device_id": "north/tx-1", "bogus": 1}),
        orjson.dumps({"device_id": "nobody/unknown", "voltage": 230}),
        orjson.dumps([]),
        orjson.dumps({"voltage": 230}),
    ]
    storm = 400
    good = 100
    with gridos_app(make_settings, tokens, mqtt_env(broker)) as client:
        register(client, "north/tx-1")
        eventually(lambda: client.app.state.services.mqtt.subscribed, what="the subscription")  # type: ignore[attr-defined]
        pub = Publisher(broker)
        g = 0
        for i in range(storm):
            pub.publish("gridos/north/tx-1/telemetry", bad_payloads[i % len(bad_payloads)])
            if i % 4 == 0:  # good messages interleaved with the storm
                pub.publish("gridos/north/tx-1/telemetry", item("north/tx-1", g))
                g += 1
        assert g == good
        pub.wait_all_acked()
        app = client.app
        eventually(lambda: sample_count(app) == good, what=f"{good} good samples committed")
        eventually(lambda: len(dead.messages) == storm, what=f"{storm} dead letters")
        pub.close()
        # every dead letter carries the original payload, its topic and the reason
        first = dead.messages[0]
        props = dict(first.properties.UserProperty)  # type: ignore[union-attr]
        assert first.payload == b"{not json"
        assert props["topic"] == "gridos/north/tx-1/telemetry"
        assert "not valid JSON" in props["error"]
        reasons = {dict(m.properties.UserProperty)["error"].split(":")[0] for m in dead.messages}  # type: ignore[union-attr]
        assert any("unknown device" in r for r in reasons)
        dead.close()
        assert metric(client, "gridos_connector_errors_total", protocol="mqtt") == storm
        assert metric(client, "gridos_connector_dead_letters_total", protocol="mqtt") == storm
        assert app.state.services.mqtt.malformed == storm  # type: ignore[attr-defined]
        assert app.state.services.mqtt.connected  # type: ignore[attr-defined]
        assert sample_count(app) == good


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("shared_group", ["", "gridos"], ids=["plain", "shared"])
def test_broker_restart_mid_stream_loses_and_duplicates_nothing(
    broker: MosquittoBroker,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
    shared_group: str,
) -> None:
    """The broker restarts while GridOS holds messages in its queue and in flight. Plain subscription:
    the publisher keeps streaming through the outage. Shared subscription: Mosquitto 2.0 does not restore
    shared subscriptions from its persistence file, so a message published after the restart and before
    GridOS resubscribes has no subscriber at the broker (docs/runbooks/connectors.md); the publisher
    therefore pauses until GridOS is subscribed again, and what is tested is GridOS's side: nothing it
    had received but not committed is lost, nothing redelivered is stored twice."""
    total = 3000
    # A small receive maximum keeps messages in flight to GridOS when the broker goes away.
    env = mqtt_env(broker, GRIDOS_MQTT_SHARED_GROUP=shared_group, GRIDOS_MQTT_RECEIVE_MAXIMUM="50")
    with gridos_app(make_settings, tokens, env) as client:
        register(client, "east/meter-1")
        app = client.app
        connector = app.state.services.mqtt  # type: ignore[attr-defined]
        eventually(lambda: connector.subscribed, what="the subscription")
        pub = Publisher(broker)
        half = threading.Event()
        resume = threading.Event()
        if not shared_group:
            resume.set()

        def stream() -> None:
            for i in range(total):
                pub.publish("gridos/east/meter-1/telemetry", item("east/meter-1", i))
                if i == total // 2:
                    half.set()
                    assert resume.wait(60)
                time.sleep(0.0005)

        producer = threading.Thread(target=stream)
        producer.start()
        assert half.wait(60)
        if shared_group:
            pub.wait_all_acked()
        committed_before = sample_count(app)
        broker.restart(down_seconds=1.0)
        eventually(lambda: connector.subscribed, what="GridOS to resubscribe")
        resume.set()
        producer.join()
        assert committed_before < total, "the restart must happen in the middle of the stream"
        pub.wait_all_acked(120)
        eventually(lambda: sample_count(app) >= total, timeout=120, what=f"{total} samples")
        time.sleep(1.0)  # let late redeliveries arrive: they must not add rows
        pub.close()
        assert sample_count(app) == total
        assert distinct_keys(app) == total
        assert connector.connected


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_shared_subscription_splits_the_load_between_two_replicas(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    total = 400
    with (
        gridos_app(make_settings, tokens, mqtt_env(broker)) as a,
        gridos_app(make_settings, tokens, mqtt_env(broker)) as b,
    ):
        register(a, "north/bus-1")
        for c in (a, b):
            eventually(lambda c=c: c.app.state.services.mqtt.subscribed, what="both subscriptions")  # type: ignore[misc]
        pub = Publisher(broker)
        for i in range(total):
            pub.publish("gridos/north/bus-1/telemetry", item("north/bus-1", i))
        pub.wait_all_acked()
        ma, mb = a.app.state.services.mqtt, b.app.state.services.mqtt  # type: ignore[attr-defined]
        eventually(lambda: ma.messages + mb.messages == total, what="all messages handled")
        pub.close()
        assert ma.messages > 0 and mb.messages > 0, (ma.messages, mb.messages)
        assert sample_count(a.app) == total


def test_readiness_reports_a_lost_broker_and_recovers(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    env = mqtt_env(broker, GRIDOS_MQTT_REQUIRED_FOR_READY="true")
    with gridos_app(make_settings, tokens, env) as client:
        eventually(lambda: client.get("/health/ready").status_code == 200, what="ready")
        broker.stop()
        eventually(lambda: client.get("/health/ready").status_code == 503, what="not ready without a broker")
        body = client.get("/health/ready").json()
        assert body["checks"]["mqtt"]["connected"] is False
        assert metric(client, "gridos_connector_up", protocol="mqtt") == 0
        broker.start()
        eventually(lambda: client.get("/health/ready").status_code == 200, what="ready again after reconnect")
        assert metric(client, "gridos_connector_up", protocol="mqtt") == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_bad_connector_settings_fail_at_start_up(make_settings: Any) -> None:
    from pydantic import ValidationError

    from gridos.app import create_app
    from gridos.config import invalid_setting
    from gridos.ingest.config import ConnectorConfigError

    for env, variable in (
        ({"GRIDOS_MQTT_ENABLED": "true", "GRIDOS_MQTT_PORT": "70000"}, "GRIDOS_MQTT_PORT"),
        ({"GRIDOS_MODBUS_ENABLED": "true"}, "GRIDOS_MODBUS_REGISTER_MAP"),
    ):
        with pytest.raises(ValidationError) as refused:
            make_settings(env)
        assert variable in invalid_setting(refused.value), refused.value
    tls = {"enabled": True, "port": 8883, "tls": True, "tls_ca_file": "/nonexistent/ca.crt"}
    with pytest.raises(ConnectorConfigError, match="cannot load the TLS files"):
        create_app(make_settings(mqtt=tls))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_credentials_are_used_and_a_refusal_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    with running_mosquitto(tmp_path / "auth-broker", users={"gridos": "s3cret"}) as secured:
        wrong = mqtt_env(secured, GRIDOS_MQTT_USERNAME="gridos", GRIDOS_MQTT_PASSWORD="wrong")
        with gridos_app(make_settings, tokens, wrong) as client:
            connector = client.app.state.services.mqtt  # type: ignore[attr-defined]
            eventually(lambda: connector.last_error is not None, what="the refusal")
            check = client.get("/health/ready").json()["checks"]["mqtt"]
            assert check["connected"] is False
            assert "connect refused" in check["last_error"] and "wrong" not in str(check)
        right = mqtt_env(secured, GRIDOS_MQTT_USERNAME="gridos", GRIDOS_MQTT_PASSWORD="s3cret")
        with gridos_app(make_settings, tokens, right) as client:
            connector = client.app.state.services.mqtt  # type: ignore[attr-defined]
            eventually(lambda: connector.subscribed, what="an authenticated subscription")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_tls_with_a_private_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    with running_mosquitto(tmp_path / "tls-broker", tls=True) as secured:
        untrusted = mqtt_env(secured, GRIDOS_MQTT_TLS="true")  # system trust store: the private CA is unknown
        with gridos_app(make_settings, tokens, untrusted) as client:
            connector = client.app.state.services.mqtt  # type: ignore[attr-defined]
            eventually(lambda: connector.last_error is not None, what="the failed handshake")
            assert "TLS handshake" in connector.last_error and not connector.connected
        trusted = mqtt_env(secured, GRIDOS_MQTT_TLS="true", GRIDOS_MQTT_TLS_CA_FILE=str(secured.ca_file))
        with gridos_app(make_settings, tokens, trusted) as client:
            register(client, "north/tx-1")
            connector = client.app.state.services.mqtt  # type: ignore[attr-defined]
            eventually(lambda: connector.subscribed, what="a subscription over TLS")
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
            pub.tls_set(ca_certs=str(secured.ca_file))
            pub.connect(secured.host, secured.port)
            pub.loop_start()
            pub.publish(
                "gridos/north/tx-1/telemetry", orjson.dumps(item("north/tx-1", 0)), qos=1
            ).wait_for_publish(10)
            eventually(lambda: sample_count(client.app) == 1, what="the sample sent over TLS")
            pub.disconnect()
            pub.loop_stop()


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_database_outage_holds_messages_unacknowledged_until_it_returns(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    from benchmarks.common import migrated_database
    from tests.support.postgres import running_postgres

    total = 600
    # fsync on: the server is stopped with -m immediate, which would lose unsynced commits.
    with running_postgres(fsync=True) as pg:
        url = pg.url(migrated_database(pg))
        with gridos_app(make_settings, tokens, mqtt_env(broker), database_url=url) as client:
            register(client, "south/cb-1")
            connector = client.app.state.services.mqtt  # type: ignore[attr-defined]
            eventually(lambda: connector.subscribed, what="the subscription")
            pub = Publisher(broker)
            for i in range(total // 2):
                pub.publish("gridos/south/cb-1/telemetry", item("south/cb-1", i))
            eventually(lambda: sample_count(client.app) == total // 2, what="the first half")
            pg.stop()
            for i in range(total // 2, total):
                pub.publish("gridos/south/cb-1/telemetry", item("south/cb-1", i))
            eventually(lambda: connector.commit_failures > 0, what="a failed commit")
            assert connector.messages == total // 2  # nothing handled (so nothing acknowledged) meanwhile
            assert "commit failed" in client.get("/health/ready").json()["checks"]["mqtt"]["last_error"]
            pg.start()
            eventually(lambda: connector.messages == total, timeout=60, what="the held messages")
            assert sample_count(client.app) == total
            assert distinct_keys(client.app) == total
            pub.close()


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_a_message_the_database_rejects_is_set_aside_not_retried_forever(
    broker: MosquittoBroker, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    dead = Subscriber(broker, "gridos/dead-letter")
    with gridos_app(make_settings, tokens, mqtt_env(broker)) as client:
        register(client, "north/tx-1")
        app = client.app
        with app.state.services.engine.begin() as conn:  # type: ignore[attr-defined]
            # A rule only the database knows: stands for any data error the validation cannot foresee.
            conn.exec_driver_sql("ALTER TABLE series_samples ADD CONSTRAINT no_333 CHECK (value <> 333)")
        connector = app.state.services.mqtt  # type: ignore[attr-defined]
        eventually(lambda: connector.subscribed, what="the subscription")
        pub = Publisher(broker)
        for i in range(50):
            pub.publish(
                "gridos/north/tx-1/telemetry", item("north/tx-1", i, voltage=333.0 if i == 25 else 230.0)
            )
        pub.wait_all_acked()
        eventually(lambda: connector.messages == 50, what="every message handled")
        eventually(lambda: len(dead.messages) == 1, what="the rejected message in the dead-letter topic")
        assert "rejected by the database" in dict(dead.messages[0].properties.UserProperty)["error"]  # type: ignore[union-attr]
        assert sample_count(app) == 49
        pub.close()
        dead.close()
