"""`gridos demo` over the real protocol paths: the fleet publishes to a real Mosquitto and serves site
'east' as Modbus TCP devices; GridOS (a real process) ingests both. And the default demo still needs no
broker."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.ingest.conftest import wait_for
from tests.support.mosquitto import MosquittoBroker
from tests.support.postgres import free_port

pytestmark = pytest.mark.slow


@contextmanager
def demo(tmp_path: Path, *args: str) -> Iterator[tuple[str, str, Path]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")}
    env["GRIDOS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    env["GRIDOS_DATA_DIR"] = str(tmp_path / "data")
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gridos", "demo", "--port", str(port), "--interval", "0.5", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "admin token:" in log.read_text() or proc.poll() is not None, 120, "the demo banner")
        match = re.search(r"admin token: (\S+)", log.read_text())
        assert match, log.read_text()[-2000:]
        yield f"http://127.0.0.1:{port}", match.group(1), log
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def ingested(url: str, source: str) -> float:
    try:
        text = httpx.get(f"{url}/metrics", timeout=5).text
    except httpx.HTTPError:
        return 0.0
    m = re.search(rf'gridos_samples_ingested_total\{{source="{source}"\}} (\S+)', text)
    return float(m.group(1)) if m else 0.0


@pytest.mark.mqtt
def test_demo_streams_over_mqtt_and_modbus(broker: MosquittoBroker, tmp_path: Path) -> None:
    modbus_port = free_port()
    with demo(tmp_path, "--mqtt-broker", broker.address, "--modbus", "--modbus-port", str(modbus_port)) as (
        url,
        token,
        log,
    ):
        assert f"Modbus TCP on 127.0.0.1:{modbus_port}" in log.read_text()
        wait_for(
            lambda: ingested(url, "mqtt") > 0 and ingested(url, "modbus") > 0, 120, "mqtt and modbus samples"
        )
        assert ingested(url, "http") == 0  # every reading took a field-protocol path
        headers = {"Authorization": f"Bearer {token}"}

        def totals() -> dict[str, int]:
            t: dict[str, int] = httpx.get(f"{url}/api/v1/scada/status", headers=headers).json()["totals"]
            return t

        wait_for(lambda: totals()["reporting"] == totals()["devices"] > 50, 120, "every device reporting")
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
        wait_for(lambda: ingested(url, "http") > 0, 120, "http samples")
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
