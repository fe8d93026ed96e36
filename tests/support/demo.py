"""`gridos demo` as a real process on a free port with a SQLite file, for the demo tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.metrics import metric
from tests.support.postgres import free_port
from tests.support.process import stop, tail, wait_ready


@contextmanager
def running_demo(tmp_path: Path, *args: str) -> Iterator[tuple[str, str, Path]]:
    """Yields (url, admin token, log path) once the demo has printed its banner; stops it afterwards."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")}
    env["GRIDOS_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
    env["GRIDOS_DATA_DIR"] = str(tmp_path / "data")  # generated register/point maps stay in the test's dir
    log = tmp_path / "demo.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gridos", "demo", "--port", str(port), "--interval", "0.5", *args],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_ready(proc, lambda: "admin token:" in log.read_text(), "gridos demo", log, timeout=120)
        match = re.search(r"admin token: (\S+)", log.read_text())
        assert match, tail(log)
        yield f"http://127.0.0.1:{port}", match.group(1), log
    finally:
        stop(proc, timeout=30)


def ingested(url: str, source: str) -> float:
    """gridos_samples_ingested_total{source=...} of a running GridOS; 0 when unreachable."""
    try:
        with httpx.Client(base_url=url, timeout=5) as client:
            return metric(client, "gridos_samples_ingested_total", source=source)
    except httpx.HTTPError:
        return 0.0
