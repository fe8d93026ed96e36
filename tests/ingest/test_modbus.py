"""Modbus TCP polling against a real pymodbus TCP server: known register images decoded into samples,
a server that stops answering (invalid samples, comm-failure alarm), and reconnection when it returns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from ruamel.yaml import YAML
from sqlalchemy import text

from gridos.simulator.modbus import ModbusTcpSimulator
from tests.conftest import Tokens
from tests.ingest.conftest import gridos_app, register, wait_for
from tests.ingest.test_mqtt import metric
from tests.support.postgres import free_port

# Only the sqlite backend: the poller's logic does not depend on the database, the REST suite covers both.
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def device_server() -> Iterator[ModbusTcpSimulator]:
    with ModbusTcpSimulator(free_port(), units=(1, 7)) as sim:
        yield sim


def write_map(tmp_path: Path, port: int, **device: Any) -> Path:
    doc = {
        "defaults": {
            "host": "127.0.0.1",
            "port": port,
            "poll_interval_s": 0.2,
            "timeout_s": 0.5,
            "retries": 1,
        },
        "devices": [
            {
                "device_id": "north/feeder-1",
                "unit": 7,
                "registers": [
                    {"measurement": "voltage", "address": 0, "data_type": "float32"},  # ABCD
                    {
                        "measurement": "current",
                        "address": 2,
                        "type": "input",
                        "data_type": "float32",
                        "word_order": "little",
                    },  # CDAB
                    {
                        "measurement": "frequency",
                        "address": 4,
                        "data_type": "uint32",
                        "word_order": "little",
                        "scale": 0.001,
                    },
                    {
                        "measurement": "temperature",
                        "address": 6,
                        "data_type": "int16",
                        "scale": 0.5,
                        "offset": 10,
                    },
                    {
                        "measurement": "active_power",
                        "address": 7,
                        "data_type": "int32",
                        "byte_order": "little",
                    },
                    {
                        "measurement": "power_factor",
                        "address": 9,
                        "type": "input",
                        "data_type": "uint16",
                        "scale": 0.0001,
                    },
                    {"measurement": "breaker_closed", "address": 3, "type": "coil", "data_type": "bool"},
                ],
                **device,
            }
        ],
    }
    path = tmp_path / "registers.yaml"
    with path.open("w") as f:
        YAML().dump(doc, f)
    return path


def load_known_values(sim: ModbusTcpSimulator) -> None:
    bank = sim.banks[7]
    bank.set_registers("holding", 0, [0x4366, 0x8000])  # 230.5 float32, high word first
    bank.set_registers("input", 2, [0x0000, 0x4120])  # 10.0 float32 = 0x41200000, low word first
    bank.set_registers("holding", 4, [0xC3AA, 0x0000])  # 50090 = 0x0000C3AA, low word first; x0.001 = 50.09
    bank.set_registers("holding", 6, [0xFFC9])  # -55 x 0.5 + 10 = -17.5
    bank.set_registers("holding", 7, [0xFFFF, 0x2EFB])  # -1234 = 0xFFFFFB2E, bytes swapped in each word
    bank.set_registers("input", 9, [9500])  # 0.95
    bank.set_coil(3, True)
    # unit 1 holds different numbers at the same addresses: the unit id must be honoured
    sim.banks[1].set_registers("holding", 0, [0x0000, 0x0000])


def modbus_env(tmp_path: Path, sim: ModbusTcpSimulator, **extra: str) -> dict[str, str]:
    """The known register values loaded into `sim`, and the settings that make GridOS poll it."""
    load_known_values(sim)
    return {
        "GRIDOS_MODBUS_ENABLED": "true",
        "GRIDOS_MODBUS_REGISTER_MAP": str(write_map(tmp_path, sim.port)),
        **extra,
    }


@pytest.fixture
def modbus_client(
    tmp_path: Path,
    device_server: ModbusTcpSimulator,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> Iterator[TestClient]:
    env = modbus_env(tmp_path, device_server)
    with gridos_app(make_settings, tokens, env) as client:
        register(client, "north/feeder-1")
        yield client


def latest(client: TestClient) -> dict[str, Any]:
    measurements: dict[str, Any] = client.get("/api/v1/devices/north/feeder-1/latest").json()["measurements"]
    return measurements


def qualities(client: TestClient) -> set[str]:
    return {m["quality"] for m in latest(client).values()}


@sqlite_only
def test_known_registers_are_decoded_into_good_samples(modbus_client: TestClient) -> None:
    wait_for(lambda: len(latest(modbus_client)) == 7, what="all 7 measurements")
    values = {k: v["value"] for k, v in latest(modbus_client).items()}
    assert values == {
        "voltage": 230.5,
        "current": 10.0,
        "frequency": pytest.approx(50.09),
        "temperature": -17.5,
        "active_power": -1234.0,
        "power_factor": pytest.approx(0.95),
        "breaker_closed": True,
    }
    assert qualities(modbus_client) == {"good"}
    assert metric(modbus_client, "gridos_connector_polls_total", protocol="modbus", result="ok") >= 1
    assert metric(modbus_client, "gridos_samples_ingested_total", source="modbus") >= 7
    assert metric(modbus_client, "gridos_connector_up", protocol="modbus") == 1
    check = modbus_client.get("/health/ready").json()["checks"]["modbus"]
    assert check["status"] == "healthy"
    assert check["devices"]["north/feeder-1"]["state"] == "ok"


def _invalid_rows(client: TestClient) -> int:
    with client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM samples WHERE quality = 2")).scalar_one())


def _comm_alarm(client: TestClient) -> dict[str, Any] | None:
    r = client.get("/api/v1/alarms", params={"device_id": "north/feeder-1"})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return next((a for a in items if a["condition"] == "comm"), None)


@sqlite_only
def test_a_device_that_stops_answering_goes_invalid_raises_the_alarm_and_recovers(
    modbus_client: TestClient, device_server: ModbusTcpSimulator
) -> None:
    client = modbus_client
    wait_for(lambda: qualities(client) == {"good"} and len(latest(client)) == 7, what="good samples")
    device_server.answering.clear()  # accepts the connection, never answers: every read times out
    wait_for(lambda: qualities(client) == {"invalid"}, what="invalid samples")
    # the last good values are carried with quality invalid
    assert latest(client)["voltage"]["value"] == 230.5
    assert _invalid_rows(client) >= 7
    check = client.get("/health/ready").json()["checks"]["modbus"]
    assert check["devices"]["north/feeder-1"]["state"] == "failed"
    assert "No response received" in check["devices"]["north/feeder-1"]["last_error"], check
    assert (
        client.get("/health/ready").status_code == 200
    )  # a field device failing is an alarm, not unreadiness
    assert metric(client, "gridos_connector_devices", protocol="modbus", state="failed") == 1
    assert metric(client, "gridos_connector_up", protocol="modbus") == 0
    assert metric(client, "gridos_connector_polls_total", protocol="modbus", result="failed") >= 1
    wait_for(lambda: _comm_alarm(client) is not None, what="the comm-failure alarm")
    assert _comm_alarm(client)["condition_active"] is True  # type: ignore[index]

    device_server.answering.set()
    wait_for(lambda: qualities(client) == {"good"}, what="good samples again")
    wait_for(
        lambda: not (_comm_alarm(client) or {}).get("condition_active", False), what="the alarm to clear"
    )
    assert metric(client, "gridos_connector_devices", protocol="modbus", state="ok") == 1


@sqlite_only
def test_the_poller_reconnects_after_the_server_restarts(
    modbus_client: TestClient, device_server: ModbusTcpSimulator
) -> None:
    client = modbus_client
    wait_for(lambda: qualities(client) == {"good"} and len(latest(client)) == 7, what="good samples")
    device_server.stop()  # connection refused from now on
    wait_for(lambda: qualities(client) == {"invalid"}, what="invalid samples")
    check = client.get("/health/ready").json()["checks"]["modbus"]["devices"]["north/feeder-1"]
    assert check["consecutive_failures"] >= 1
    restarted = ModbusTcpSimulator(device_server.port, units=(1, 7))
    restarted.banks = device_server.banks
    restarted.banks[7].set_registers("holding", 0, [0x4367, 0x0000])  # 231.0
    with restarted:
        wait_for(lambda: latest(client)["voltage"]["quality"] == "good", what="reconnection")
        assert latest(client)["voltage"]["value"] == 231.0


@sqlite_only
def test_unregistered_device_is_reported_not_crashing(
    tmp_path: Path,
    device_server: ModbusTcpSimulator,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> None:
    env = modbus_env(tmp_path, device_server)
    with gridos_app(make_settings, tokens, env) as client:

        def last_error() -> str:
            return str(
                client.get("/health/ready").json()["checks"]["modbus"]["devices"]["north/feeder-1"][
                    "last_error"
                ]
            )

        wait_for(lambda: "unknown device" in last_error(), what="the unknown-device error")
        assert metric(client, "gridos_connector_errors_total", protocol="modbus") >= 1


def _role(client: TestClient) -> str:
    return str(client.get("/health/ready").json()["checks"]["modbus"]["role"])


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_one_replica_polls_and_a_standby_takes_over(
    tmp_path: Path,
    device_server: ModbusTcpSimulator,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> None:
    env = modbus_env(tmp_path, device_server, GRIDOS_MODBUS_LEADER_CHECK_SECONDS="0.3")
    with gridos_app(make_settings, tokens, env) as b:
        register(b, "north/feeder-1")
        with gridos_app(make_settings, tokens, env) as a:
            clients = (a, b)
            wait_for(lambda: sorted(_role(c) for c in clients) == ["polling", "standby"], what="one leader")
            leader = next(c for c in clients if _role(c) == "polling")
            standby = next(c for c in clients if c is not leader)
            wait_for(
                lambda: metric(leader, "gridos_connector_polls_total", protocol="modbus", result="ok") >= 3
            )
            assert metric(standby, "gridos_connector_polls_total", protocol="modbus", result="ok") == 0
            assert metric(leader, "gridos_connector_leader", protocol="modbus") == 1
            assert metric(standby, "gridos_connector_leader", protocol="modbus") == 0
        # `a` has stopped; if it was the leader, `b` takes over; either way `b` polls now
        wait_for(lambda: _role(b) == "polling", what="the standby to take over")
        before = metric(b, "gridos_connector_polls_total", protocol="modbus", result="ok")
        wait_for(
            lambda: metric(b, "gridos_connector_polls_total", protocol="modbus", result="ok") > before + 2
        )
