"""`gridos demo` over the real protocol paths: the fleet publishes to a real Mosquitto and serves site
'east' as Modbus TCP devices; GridOS (a real process) ingests both. And the default demo still needs no
broker."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.demo import ingested
from tests.support.demo import running_demo as demo
from tests.support.mosquitto import MosquittoBroker
from tests.support.postgres import free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.slow


@pytest.mark.mqtt
def test_demo_streams_over_mqtt_and_modbus(broker: MosquittoBroker, tmp_path: Path) -> None:
    modbus_port = free_port()
    with demo(tmp_path, "--mqtt-broker", broker.address, "--modbus", "--modbus-port", str(modbus_port)) as (
        url,
        token,
        log,
    ):
        assert f"Modbus TCP on 127.0.0.1:{modbus_port}" in log.read_text()
        eventually(
            lambda: ingested(url, "mqtt") > 0 and ingested(url, "modbus") > 0, 120, "mqtt and modbus samples"
        )
        assert ingested(url, "http") == 0  # every reading took a field-protocol path
        headers = {"Authorization": f"Bearer {token}"}

        def totals() -> dict[str, int]:
            t: dict[str, int] = httpx.get(f"{url}/api/v1/scada/status", headers=headers).json()["totals"]
            return t

        eventually(lambda: totals()["reporting"] == totals()["devices"] > 50, 120, "every device reporting")
        east = httpx.get(f"{url}/api/v1/devices/east/tx-1/latest", headers=headers).json()["measurements"]
        assert east["voltage"]["quality"] == "good"
        assert 9_000 < east["voltage"]["value"] < 12_000  # float32 through Modbus registers, sensibly scaled
        ready = httpx.get(f"{url}/health/ready", headers=headers).json()["checks"]  # details need a token
        assert ready["mqtt"]["connected"] is True
        assert ready["modbus"]["devices_failed"] == 0
        # The fleet is registered and its registers filled before the first poll: no warnings at start,
        # and the register map lives in the data directory (replaced on every run), not a leaked temp dir.
        text = log.read_text()
        assert "unknown device" not in text and "modbus samples rejected" not in text
        assert f"register map {tmp_path / 'data' / 'demo-modbus-registers.yaml'}" in text


def test_default_demo_needs_no_broker(tmp_path: Path) -> None:
    with demo(tmp_path) as (url, _token, _log):
        eventually(lambda: ingested(url, "http") > 0, 120, "http samples")
        ready = httpx.get(f"{url}/health/ready").json()["checks"]
        assert ready["mqtt"] == {"status": "disabled"} and ready["modbus"] == {"status": "disabled"}


def test_demo_rejects_a_bad_broker_address(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "gridos", "demo", "--mqtt-broker", "localhost:notaport"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 2
    assert (
        r.stderr.strip().splitlines()[-1]
        == "gridos demo: invalid broker address 'localhost:notaport': expected host:port"
    )
