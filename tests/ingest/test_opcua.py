"""GridOS's OPC UA server against a real asyncua client over TCP: Basic256Sha256 with certificates,
a GridOS API token as the session's password, anonymous refused; browsing sites > devices >
measurements with engineering units and ranges, reading values with quality and source time, a
subscription that sees new samples, and active alarms as variables."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client, ua
from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID
from fastapi.testclient import TestClient

from tests.conftest import Tokens
from tests.ingest.conftest import gridos_app, wait_for
from tests.support.postgres import free_port

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
CLIENT_URI = "urn:gridos:test-client"


@pytest.fixture
def opcua(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> Iterator[tuple[TestClient, str]]:
    port = free_port()
    env = {
        "GRIDOS_OPCUA_ENABLED": "true",
        "GRIDOS_OPCUA_PORT": str(port),
        "GRIDOS_OPCUA_PKI_DIR": str(tmp_path / "pki"),
        "GRIDOS_OPCUA_PUBLISH_INTERVAL_SECONDS": "0.2",
    }
    with gridos_app(make_settings, tokens, env) as client:
        r = client.put(
            "/api/v1/devices/north/feeder-1",
            json={"type": "feeder", "site": "north", "name": "Feeder 1", "nominal_voltage": 11000.0},
        )
        assert r.status_code in (200, 201), r.text
        post(client, tokens, voltage=11_050.0, breaker_closed=True, quality="good")
        yield client, f"opc.tcp://127.0.0.1:{port}/gridos/"


def post(client: TestClient, tokens: Tokens, at: datetime | None = None, **fields: Any) -> None:
    item = {"device_id": "north/feeder-1", "timestamp": (at or datetime.now(UTC)).isoformat(), **fields}
    r = client.post("/api/v1/scada/data", json=[item], headers=tokens.header("ingest"))
    assert r.status_code in (200, 201, 202), r.text


async def client_cert(directory: Path) -> tuple[Path, Path]:
    """A client application certificate and key in `directory` (made once, reused after)."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "client-cert.der", directory / "client-key.pem"
    await setup_self_signed_certificate(
        key, cert, CLIENT_URI, "localhost", [ExtendedKeyUsageOID.CLIENT_AUTH], {"commonName": "test client"}
    )
    return cert, key


async def secure_client(url: str, tmp_path: Path, password: str | None) -> Client:
    cert, key = await client_cert(tmp_path)
    c = Client(url, timeout=10)
    c.application_uri = CLIENT_URI
    await c.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
    if password is not None:
        c.set_user("scada-hmi")
        c.set_password(password)
    return c


@sqlite_only
def test_browse_read_and_subscribe_with_basic256sha256(
    opcua: tuple[TestClient, str], tokens: Tokens, tmp_path: Path
) -> None:
    app_client, url = opcua

    async def scenario() -> None:
        c = await secure_client(url, tmp_path, tokens.viewer)
        async with c:
            idx = await c.get_namespace_index("urn:gridos")
            gridos = await c.nodes.objects.get_child(f"{idx}:GridOS")
            sites = await gridos.get_child(f"{idx}:Sites")
            for _ in range(300):  # the server adds nodes at its next refresh after the sample
                device_nodes = await sites.get_children()
                if device_nodes and len(await device_nodes[0].get_children()) == 1:
                    feeder = (await device_nodes[0].get_children())[0]
                    if len(await feeder.get_children()) == 2:
                        break
                await asyncio.sleep(0.1)
            assert [
                n.Name
                for n in await asyncio.gather(*(x.read_browse_name() for x in await sites.get_children()))
            ] == ["north"]
            device = await sites.get_child([f"{idx}:north", f"{idx}:north/feeder-1"])
            assert (await device.read_display_name()).Text == "Feeder 1"
            names = {(await n.read_browse_name()).Name for n in await device.get_children()}
            assert names == {"voltage", "breaker_closed"}

            voltage = c.get_node(ua.NodeId("devices/north/feeder-1/voltage", idx))
            dv = await voltage.read_data_value()
            assert dv.Value.Value == 11_050.0 and dv.StatusCode.is_good()
            assert dv.SourceTimestamp is not None
            eu = await (await voltage.get_child("0:EngineeringUnits")).read_value()
            assert eu.DisplayName.Text == "V" and eu.UnitId == 0x564C54  # UNECE "VLT"
            rng = await (await voltage.get_child("0:EURange")).read_value()
            assert (rng.Low, rng.High) == (0.0, 16_500.0)  # 0 .. 1.5 x nominal voltage
            breaker = c.get_node(ua.NodeId("devices/north/feeder-1/breaker_closed", idx))
            assert await breaker.read_value() is True

            seen: list[tuple[float, ua.DataValue]] = []

            class Handler:
                def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
                    seen.append((val, data.monitored_item.Value))

            sub = await c.create_subscription(100, Handler())
            await sub.subscribe_data_change(voltage)
            await asyncio.sleep(0.5)
            at = datetime.now(UTC) + timedelta(seconds=1)
            await asyncio.to_thread(post, app_client, tokens, at, voltage=10_990.0, quality="questionable")
            for _ in range(300):
                if any(v == 10_990.0 for v, _ in seen):
                    break
                await asyncio.sleep(0.1)
            data = next(d for v, d in seen if v == 10_990.0)
            assert data.StatusCode.value == ua.StatusCodes.Uncertain
            assert data.SourceTimestamp.replace(tzinfo=UTC) == at
            await sub.delete()

    asyncio.run(scenario())


@sqlite_only
def test_anonymous_and_unknown_tokens_are_refused(
    opcua: tuple[TestClient, str], tokens: Tokens, tmp_path: Path
) -> None:
    _, url = opcua

    async def scenario() -> None:
        anonymous = await secure_client(url, tmp_path, None)
        with pytest.raises(ua.UaStatusCodeError) as refused:
            await anonymous.connect()
        assert refused.value.code in (
            ua.StatusCodes.BadIdentityTokenInvalid,
            ua.StatusCodes.BadIdentityTokenRejected,
            ua.StatusCodes.BadUserAccessDenied,
        )
        await anonymous.disconnect_socket() if anonymous.uaclient.protocol else None

        wrong = await secure_client(url, tmp_path, "not-a-gridos-token")
        with pytest.raises(ua.UaStatusCodeError):
            await wrong.connect()

        plain = Client(url, timeout=5)  # no security at all: there is no such endpoint
        with pytest.raises(Exception):
            await plain.connect()

    asyncio.run(scenario())


@sqlite_only
def test_active_alarms_are_variables(opcua: tuple[TestClient, str], tokens: Tokens, tmp_path: Path) -> None:
    app_client, url = opcua
    app_client.app.state.services.alarms.comm_failure("north/feeder-1", "test: link down")  # type: ignore[attr-defined]

    async def scenario() -> None:
        c = await secure_client(url, tmp_path, tokens.operator)  # waits below for the next refresh
        async with c:
            idx = await c.get_namespace_index("urn:gridos")
            count = c.get_node(ua.NodeId("alarms/ActiveCount", idx))
            for _ in range(300):
                if await count.read_value() >= 1:
                    break
                await asyncio.sleep(0.1)
            lines = await c.get_node(ua.NodeId("alarms/Active", idx)).read_value()
            assert any(line.startswith("high|north/feeder-1|communication|comm|") for line in lines), lines
            assert await c.get_node(ua.NodeId("alarms/UnacknowledgedCount", idx)).read_value() >= 1

    asyncio.run(scenario())
    ready = app_client.get("/health/ready").json()["checks"]["opcua"]
    assert ready["status"] == "healthy" and ready["anonymous"] is False and ready["variables"] == 2
    wait_for(lambda: app_client.get("/health/ready").status_code == 200)


@sqlite_only
def test_only_trusted_client_certificates_when_a_trust_folder_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_settings: Any, tokens: Tokens
) -> None:
    trusted_dir, known, stranger = tmp_path / "trusted", tmp_path / "known", tmp_path / "stranger"
    cert, _ = asyncio.run(client_cert(known))
    asyncio.run(client_cert(stranger))
    trusted_dir.mkdir()
    (trusted_dir / "hmi.der").write_bytes(cert.read_bytes())
    port = free_port()
    env = {
        "GRIDOS_OPCUA_ENABLED": "true",
        "GRIDOS_OPCUA_PORT": str(port),
        "GRIDOS_OPCUA_PKI_DIR": str(tmp_path / "pki"),
        "GRIDOS_OPCUA_TRUSTED_CLIENTS_DIR": str(trusted_dir),
    }
    url = f"opc.tcp://127.0.0.1:{port}/gridos/"
    with gridos_app(make_settings, tokens, env) as app_client:

        async def scenario() -> None:
            ok = await secure_client(url, known, tokens.viewer)
            async with ok:
                assert await ok.get_namespace_index("urn:gridos") >= 2
            refused = await secure_client(url, stranger, tokens.viewer)  # right token, unknown certificate
            with pytest.raises(ua.UaStatusCodeError) as err:
                await refused.connect()
            assert err.value.code == ua.StatusCodes.BadCertificateUntrusted

        asyncio.run(scenario())
        assert app_client.get("/health/ready").json()["checks"]["opcua"]["trusted_clients"] == 1
