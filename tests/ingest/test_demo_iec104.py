"""`gridos demo --iec104`: site 'south' is served as a c104 outstation and GridOS (a real process)
ingests it over IEC 60870-5-104; a taken port is a one-line error."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.demo import ingested, running_demo
from tests.support.postgres import free_port
from tests.support.wait import eventually

pytestmark = pytest.mark.slow


def test_demo_streams_site_south_over_iec104(tmp_path: Path) -> None:
    port = free_port()
    with running_demo(tmp_path, "--iec104", "--iec104-port", str(port)) as (url, token, log):
        assert f"IEC 60870-5-104 outstation on 127.0.0.1:{port}" in log.read_text()
        eventually(lambda: ingested(url, "iec104") > 50, 120, "iec104 samples")
        headers = {"Authorization": f"Bearer {token}"}
        latest = httpx.get(f"{url}/api/v1/devices/south/tx-1/latest", headers=headers).json()["measurements"]
        assert latest["voltage"]["quality"] == "good"
        assert 9_000 < latest["voltage"]["value"] < 12_000  # a time-tagged short float from the RTU
        breaker = httpx.get(f"{url}/api/v1/devices/south/cb-1/latest", headers=headers).json()["measurements"]
        assert isinstance(breaker["breaker_closed"]["value"], bool)  # a double point
        # Readiness details (per-link counters) are for authenticated callers only.
        ready = httpx.get(f"{url}/health/ready", headers=headers).json()["checks"]["iec104"]
        assert ready["links_ok"] == 1 and ready["links"]["south-rtu"]["received"] > 50
        # the other sites still arrive over HTTP
        assert httpx.get(f"{url}/api/v1/devices/north/tx-1/latest", headers=headers).status_code == 200


def test_demo_reports_a_taken_iec104_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "gridos", "demo", "--iec104", "--iec104-port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 2, r.stderr
    assert (
        r.stderr.strip().splitlines()[-1].startswith(f"gridos demo: cannot serve IEC 104 on 127.0.0.1:{port}")
    )
