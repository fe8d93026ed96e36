"""IEC 60870-5-104 against real c104 outstations on 127.0.0.1: interrogation on connect, spontaneous
changes with time tags, quality bits, a dropped link (invalid samples, comm-failure alarm, nothing lost
when it returns), failover to a redundant address, clock sync, and one replica owning the links."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import c104
import pytest
from fastapi.testclient import TestClient
from ruamel.yaml import YAML
from sqlalchemy import text

from gridos.ingest.iec104map import parse_point_map
from gridos.simulator.iec104 import Iec104Outstation
from gridos.telemetry.catalogue import build_catalogue
from tests.conftest import Tokens
from tests.ingest.conftest import gridos_app, register, wait_for
from tests.support.metrics import metric
from tests.support.postgres import free_port

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
FEEDER, TX = "north/feeder-1", "north/tx-1"
IV, NT, SB, BL, OV = 0x80, 0x40, 0x20, 0x10, 0x01


def link_doc(port: int, *backup_ports: int) -> dict[str, Any]:
    return {
        "name": "north-rtu",
        "host": "127.0.0.1",
        "port": port,
        "backup": [{"host": "127.0.0.1", "port": p} for p in backup_ports],
        "common_address": 7,
        "connect_timeout_s": 3.0,
        "reconnect_min_s": 0.2,
        "reconnect_max_s": 0.5,
        "points": [
            {"ioa": 100, "type": "M_ME_TF_1", "device_id": FEEDER, "measurement": "voltage"},
            {"ioa": 101, "type": "M_ME_NB_1", "device_id": FEEDER, "measurement": "current", "scale": 0.1},
            {"ioa": 102, "type": "M_DP_TB_1", "device_id": FEEDER, "measurement": "breaker_closed"},
            {"ioa": 103, "type": "M_ME_NC_1", "device_id": TX, "measurement": "temperature"},
            {"ioa": 104, "type": "M_SP_NA_1", "device_id": TX, "measurement": "breaker_closed"},
            {
                "ioa": 105,
                "type": "M_ME_NA_1",
                "device_id": TX,
                "measurement": "power_factor",
            },
        ],
    }


def outstation(doc: dict[str, Any], port: int) -> Iec104Outstation:
    (link,) = parse_point_map({"links": [doc]}, build_catalogue())
    o = Iec104Outstation(link, port=port)
    o.update(100, 231.5, spontaneous=False)
    o.update(101, 12.3, spontaneous=False)  # scaled: raw 123 x 0.1
    o.update(102, True, spontaneous=False)
    o.update(103, 41.25, spontaneous=False)
    o.update(104, False, spontaneous=False)
    o.update(105, 0.5, spontaneous=False)
    return o


def env_for(tmp_path: Path, doc: dict[str, Any], **extra: str) -> dict[str, str]:
    path = tmp_path / "iec104.yaml"
    with path.open("w") as f:
        YAML().dump({"links": [doc]}, f)
    return {"GRIDOS_IEC104_ENABLED": "true", "GRIDOS_IEC104_POINT_MAP": str(path), **extra}


@pytest.fixture
def rtu_port() -> int:
    return free_port()


@pytest.fixture
def rtu(rtu_port: int) -> Iterator[Iec104Outstation]:
    o = outstation(link_doc(rtu_port), rtu_port)
    with o:
        yield o


@pytest.fixture
def client(
    tmp_path: Path,
    rtu: Iec104Outstation,
    rtu_port: int,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> Iterator[TestClient]:
    with gridos_app(make_settings, tokens, env_for(tmp_path, link_doc(rtu_port))) as c:
        register(c, FEEDER, TX)
        # registered after start-up: the values of the first interrogation may have been refused
        c.app.state.services.iec104.links[0].connections[0].interrogation(
            common_address=7, wait_for_response=False
        )  # type: ignore[attr-defined]
        yield c


def latest(client: TestClient, device_id: str) -> dict[str, Any]:
    m: dict[str, Any] = client.get(f"/api/v1/devices/{device_id}/latest").json()["measurements"]
    return m


def history(client: TestClient, device_id: str, measurement: str) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    r = client.get(
        "/api/v1/scada/data",
        params={
            "device_id": device_id,
            "measurement": measurement,
            "from": (now - timedelta(hours=1)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat(),
        },
    )
    assert r.status_code == 200, r.text
    points: list[dict[str, Any]] = r.json()["points"]
    return points


def comm_alarm(client: TestClient, device_id: str) -> dict[str, Any] | None:
    items: list[dict[str, Any]] = client.get("/api/v1/alarms", params={"device_id": device_id}).json()[
        "items"
    ]
    return next((a for a in items if a["condition"] == "comm"), None)


def check(client: TestClient) -> dict[str, Any]:
    c: dict[str, Any] = client.get("/health/ready").json()["checks"]["iec104"]
    return c


@sqlite_only
def test_interrogation_spontaneous_changes_time_tags_and_quality(
    client: TestClient, rtu: Iec104Outstation
) -> None:
    wait_for(lambda: len(latest(client, FEEDER)) == 3 and len(latest(client, TX)) == 3, what="interrogation")
    feeder, tx = latest(client, FEEDER), latest(client, TX)
    assert feeder["voltage"]["value"] == 231.5
    assert feeder["current"]["value"] == pytest.approx(12.3)
    assert feeder["breaker_closed"]["value"] is True
    assert tx["temperature"]["value"] == 41.25
    assert tx["breaker_closed"]["value"] is False
    assert tx["power_factor"]["value"] == pytest.approx(0.5, abs=1e-4)
    assert {m["quality"] for m in [*feeder.values(), *tx.values()]} == {"good"}
    assert rtu.clock_syncs, "a clock synchronisation is sent on connect"

    # A spontaneous change carries its time tag: that is the sample's time, not the time of arrival.
    tagged = (datetime.now(UTC) - timedelta(seconds=42)).replace(microsecond=123_000)
    rtu.update(100, 229.75, at=tagged)
    wait_for(
        lambda: any(p["value"] == 229.75 for p in history(client, FEEDER, "voltage")),
        what="the spontaneous change",
    )
    (point,) = [p for p in history(client, FEEDER, "voltage") if p["value"] == 229.75]
    assert datetime.fromisoformat(point["ts"]) == tagged
    assert latest(client, FEEDER)["voltage"]["value"] == 231.5  # older than the latest value: history only

    # Quality descriptor bits: IV -> invalid; NT, SB, BL, OV -> questionable.
    cases = [
        (IV, "invalid"),
        (NT, "questionable"),
        (SB, "questionable"),
        (BL, "questionable"),
        (OV, "questionable"),
    ]
    for i, (bits, expected) in enumerate(cases):
        rtu.update(100, 230.0 + i, quality=bits)
        wait_for(
            lambda v=230.0 + i: latest(client, FEEDER)["voltage"]["value"] == v, what=f"quality {bits:#x}"
        )
        assert latest(client, FEEDER)["voltage"]["quality"] == expected, bits
    rtu.update(103, 40.0, quality=IV | NT)
    wait_for(
        lambda: latest(client, TX)["temperature"]["quality"] == "invalid", what="IV|NT on an untagged type"
    )

    # A double point in transit has no position: invalid, carrying the last known one.
    rtu.update(102, c104.Double.INTERMEDIATE)
    wait_for(lambda: latest(client, FEEDER)["breaker_closed"]["quality"] == "invalid", what="intermediate")
    assert latest(client, FEEDER)["breaker_closed"]["value"] is True
    rtu.update(102, False)
    wait_for(lambda: latest(client, FEEDER)["breaker_closed"]["quality"] == "good", what="breaker open")
    assert latest(client, FEEDER)["breaker_closed"]["value"] is False
    assert metric(client, "gridos_samples_ingested_total", source="iec104") >= 6
    assert metric(client, "gridos_connector_up", protocol="iec104") == 1
    link = check(client)["links"]["north-rtu"]
    assert link["state"] == "ok" and link["connected_to"] == f"127.0.0.1:{rtu.port}"


@sqlite_only
def test_a_dropped_link_raises_the_alarm_and_loses_nothing(client: TestClient, rtu: Iec104Outstation) -> None:
    wait_for(lambda: len(latest(client, FEEDER)) == 3, what="interrogation")
    wait_for(lambda: rtu.connected, what="the outstation to see the connection")
    sent: dict[datetime, float] = {}

    def event(value: float) -> None:
        at = datetime.now(UTC).replace(microsecond=datetime.now(UTC).microsecond // 1000 * 1000)
        at += timedelta(milliseconds=len(sent))  # distinct, increasing time tags (ms resolution)
        rtu.update(100, value, at=at)
        sent[at] = value

    event(200.0)
    event(201.0)
    wait_for(lambda: latest(client, FEEDER)["voltage"]["value"] == 201.0, what="the changes before the drop")

    rtu.stop()  # the RTU's port closes: the link drops
    wait_for(lambda: latest(client, FEEDER)["voltage"]["quality"] == "invalid", what="invalid samples")
    assert {m["quality"] for m in latest(client, TX).values()} == {"invalid"}
    assert latest(client, FEEDER)["voltage"]["value"] == 201.0  # the last value, carried as invalid
    wait_for(lambda: (comm_alarm(client, FEEDER) or {}).get("condition_active") is True, what="feeder alarm")
    wait_for(lambda: (comm_alarm(client, TX) or {}).get("condition_active") is True, what="tx alarm")
    assert check(client)["links"]["north-rtu"]["state"] == "failed"
    assert client.get("/health/ready").status_code == 200  # a failing RTU is an alarm, not unreadiness
    assert metric(client, "gridos_connector_devices", protocol="iec104", state="failed") == 2

    # Events while the link is down wait in the RTU's buffer with their time tags ...
    for value in (202.0, 203.0, 204.0):
        event(value)
    assert len(rtu.buffer) == 3
    rtu.start()
    wait_for(lambda: check(client)["links"]["north-rtu"]["state"] == "ok", what="reconnection")
    wait_for(
        lambda: not (comm_alarm(client, FEEDER) or {}).get("condition_active"), what="the alarm to clear"
    )

    # ... and every one of them is in the history at its own time.
    def stored() -> dict[datetime, float]:
        return {
            datetime.fromisoformat(p["ts"]): p["value"]
            for p in history(client, FEEDER, "voltage")
            if p["quality"] == "good"
        }

    wait_for(lambda: sent.items() <= stored().items(), what="every event in the history")
    wait_for(lambda: latest(client, FEEDER)["voltage"]["quality"] == "good", what="good again")
    assert metric(client, "gridos_connector_polls_total", protocol="iec104", result="failed") >= 1


@sqlite_only
def test_fails_over_to_the_redundant_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    primary_port, backup_port = free_port(), free_port()
    doc = link_doc(primary_port, backup_port)
    backup = outstation(doc, backup_port)
    backup.update(100, 240.0, spontaneous=False)  # tells the two apart
    primary = outstation(doc, primary_port)
    with primary, backup, gridos_app(make_settings, tokens, env_for(tmp_path, doc)) as client:
        register(client, FEEDER, TX)
        wait_for(lambda: check(client)["links"]["north-rtu"]["connected_to"] == f"127.0.0.1:{primary_port}")
        primary.stop()
        wait_for(lambda: check(client)["links"]["north-rtu"]["connected_to"] == f"127.0.0.1:{backup_port}")
        wait_for(
            lambda: any(p["value"] == 240.0 for p in history(client, FEEDER, "voltage")), what="backup's GI"
        )
        # The switch-over happened without a comm failure.
        assert comm_alarm(client, FEEDER) is None or not comm_alarm(client, FEEDER)["condition_active"]  # type: ignore[index]
        assert check(client)["links"]["north-rtu"]["state"] == "ok"


@sqlite_only
def test_unreachable_rtu_at_start_raises_the_alarm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    doc = link_doc(free_port())  # nobody listens
    with gridos_app(make_settings, tokens, env_for(tmp_path, doc)) as client:
        register(client, FEEDER, TX)
        wait_for(lambda: check(client)["links"]["north-rtu"]["consecutive_failures"] >= 2, what="retries")
        assert "not open within 3 s" in check(client)["links"]["north-rtu"]["last_error"]
        wait_for(lambda: (comm_alarm(client, FEEDER) or {}).get("condition_active") is True, what="the alarm")


def _role(client: TestClient) -> str:
    return str(check(client)["role"])


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_one_replica_owns_the_rtu_links(
    tmp_path: Path,
    rtu: Iec104Outstation,
    rtu_port: int,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> None:
    env = env_for(tmp_path, link_doc(rtu_port), GRIDOS_IEC104_LEADER_CHECK_SECONDS="0.3")
    with gridos_app(make_settings, tokens, env) as b:
        register(b, FEEDER, TX)
        with gridos_app(make_settings, tokens, env) as a:
            clients = (a, b)
            wait_for(lambda: sorted(_role(c) for c in clients) == ["connected", "standby"], what="one owner")
            owner = next(c for c in clients if _role(c) == "connected")
            standby = next(c for c in clients if c is not owner)
            wait_for(lambda: check(owner)["links"]["north-rtu"]["state"] == "ok", what="the owner's link")
            assert check(standby)["links"]["north-rtu"]["state"] == "unknown"
            assert rtu.server.active_connection_count == 1
        wait_for(lambda: _role(b) == "connected", what="the standby to take over")
        wait_for(lambda: check(b)["links"]["north-rtu"]["state"] == "ok", what="b's link")


def test_point_map_errors_are_specific() -> None:
    from gridos.ingest.config import ConnectorConfigError

    catalogue = build_catalogue()
    doc = link_doc(2404)
    bad_type = {**doc, "points": [{**doc["points"][0], "type": "M_ME_XX_1"}]}
    with pytest.raises(ConnectorConfigError, match=r"links\.0\.points\.0: Value error, type 'M_ME_XX_1'"):
        parse_point_map({"links": [bad_type]}, catalogue)
    wrong_family = {**doc, "points": [{**doc["points"][0], "measurement": "breaker_closed"}]}
    with pytest.raises(
        ConnectorConfigError, match="IOA 100: breaker_closed is bool; boolean measurements take"
    ):
        parse_point_map({"links": [wrong_family]}, catalogue)
    twice = {**doc, "points": [doc["points"][0], {**doc["points"][1], "ioa": 100}]}
    with pytest.raises(ConnectorConfigError, match="IOA 100 is mapped twice"):
        parse_point_map({"links": [twice]}, catalogue)
    with pytest.raises(ConnectorConfigError, match="unknown measurement 'volts'"):
        parse_point_map(
            {"links": [{**doc, "points": [{**doc["points"][0], "measurement": "volts"}]}]}, catalogue
        )
    with pytest.raises(ConnectorConfigError, match="link 'north-rtu' is listed twice"):
        parse_point_map({"links": [doc, doc]}, catalogue)
    links = parse_point_map(
        {"defaults": {"port": 2405}, "links": [{k: v for k, v in doc.items() if k != "port"}]}, catalogue
    )
    assert links[0].port == 2405 and links[0].points[1].types == ("M_ME_NB_1", "M_ME_TE_1")


def test_example_point_map_is_valid() -> None:
    from gridos.ingest.iec104map import main

    assert main([str(Path(__file__).parents[2] / "src/gridos/ingest/examples/iec104.yaml")]) == 0


@sqlite_only
def test_rows_carry_the_time_tag_not_the_arrival(client: TestClient, rtu: Iec104Outstation) -> None:
    wait_for(lambda: len(latest(client, FEEDER)) == 3 and len(latest(client, TX)) == 3, what="interrogation")
    at = (datetime.now(UTC) - timedelta(minutes=10)).replace(microsecond=0)
    rtu.update(103, 39.5, at=at)  # M_ME_NC_1 has no time tag: arrival time is used
    wait_for(lambda: latest(client, TX).get("temperature", {}).get("value") == 39.5, what="untagged change")
    assert datetime.fromisoformat(latest(client, TX)["temperature"]["ts"]) > at + timedelta(minutes=9)
    with client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        n = conn.execute(text("SELECT count(*) FROM samples WHERE device_id = :d"), {"d": TX}).scalar_one()
    assert n >= 4


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_values_received_during_a_database_outage_are_committed_when_it_returns(
    tmp_path: Path,
    rtu: Iec104Outstation,
    rtu_port: int,
    monkeypatch: pytest.MonkeyPatch,
    make_settings: Any,
    tokens: Tokens,
) -> None:
    from benchmarks.common import migrated_database
    from tests.support.postgres import running_postgres

    # fsync on: the server is stopped with -m immediate, which would lose unsynced commits.
    with running_postgres(fsync=True) as pg:
        url = pg.url(migrated_database(pg))
        env = env_for(tmp_path, link_doc(rtu_port))
        with gridos_app(make_settings, tokens, env, database_url=url) as client:
            register(client, FEEDER, TX)
            connector = client.app.state.services.iec104  # type: ignore[attr-defined]
            wait_for(lambda: check(client)["links"]["north-rtu"]["state"] == "ok", what="the link")
            wait_for(lambda: rtu.connected, what="the outstation to see the connection")

            def voltage_rows() -> dict[datetime, float]:
                with client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
                    rows = conn.execute(
                        text(
                            "SELECT ts, value FROM samples WHERE device_id = :d AND measurement = 'voltage'"
                        ),
                        {"d": FEEDER},
                    ).all()
                return {datetime.fromtimestamp(ts / 1e6, UTC): v for ts, v in rows}

            pg.stop()
            start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
            sent = {start + timedelta(milliseconds=i): 220.0 + i for i in range(50)}
            for at, value in sent.items():
                rtu.update(100, value, at=at)
            wait_for(lambda: connector.health()["pending_samples"] >= 50, what="every value held back")
            assert check(client)["links"]["north-rtu"]["state"] == "ok"  # the RTU link is not the problem
            pg.start()
            wait_for(lambda: connector.health()["pending_samples"] == 0, timeout=60, what="the backlog")
            wait_for(lambda: sent.items() <= voltage_rows().items(), timeout=60, what="every value committed")
            assert connector.health()["dropped_samples"] == 0


@sqlite_only
def test_the_other_time_tag_variant_of_a_mapped_type_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    """The map says M_ME_NC_1 / M_ME_NB_1; this RTU sends M_ME_TF_1 / M_ME_TE_1 for the same IOAs (c104
    rejects such ASDUs as a type mismatch: GridOS takes them from the unexpected-message path)."""
    port = free_port()
    doc = link_doc(port)
    rtu_doc = {
        **doc,
        "points": [
            {**p, "type": {"M_ME_NC_1": "M_ME_TF_1", "M_ME_NB_1": "M_ME_TE_1"}.get(p["type"], p["type"])}
            for p in doc["points"]
        ],
    }
    with (
        outstation(rtu_doc, port) as rtu,
        gridos_app(make_settings, tokens, env_for(tmp_path, doc)) as client,
    ):
        register(client, FEEDER, TX)
        client.app.state.services.iec104.links[0].connections[0].interrogation(  # type: ignore[attr-defined]
            common_address=7, wait_for_response=False
        )
        wait_for(
            lambda: len(latest(client, FEEDER)) == 3 and len(latest(client, TX)) == 3, what="interrogation"
        )
        assert latest(client, TX)["temperature"]["value"] == 41.25
        assert latest(client, FEEDER)["current"]["value"] == pytest.approx(12.3)
        tagged = (datetime.now(UTC) - timedelta(seconds=5)).replace(microsecond=250_000)
        rtu.update(103, 38.5, at=tagged)
        wait_for(
            lambda: any(p["value"] == 38.5 for p in history(client, TX, "temperature")), what="tagged change"
        )
        (point,) = [p for p in history(client, TX, "temperature") if p["value"] == 38.5]
        assert datetime.fromisoformat(point["ts"]) == tagged
