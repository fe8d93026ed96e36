"""Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) for the cold-tier tests: the Blob
service on a free port of 127.0.0.1 with its data in a temporary directory."""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.postgres import free_port
from tests.support.process import listening, stop, wait_ready

ROOT = Path(__file__).resolve().parents[2]
# GRIDOS_AZURITE_DIR points at another install of the npm package (default: the repository's node_modules).
AZURITE_DIR = Path(os.environ.get("GRIDOS_AZURITE_DIR") or ROOT / "node_modules" / "azurite")
MAIN = AZURITE_DIR / "dist" / "src" / "blob" / "main.js"
# An account of our own with a key made up per run (AZURITE_ACCOUNTS), rather than the well-known
# development key: nothing key-shaped is committed.
ACCOUNT = "gridostest"


@dataclass
class Azurite:
    port: int
    key: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={self.key};"
            f"BlobEndpoint=http://127.0.0.1:{self.port}/{ACCOUNT};"
        )


def available() -> bool:
    return MAIN.exists() and shutil.which("node") is not None


@contextlib.contextmanager
def running_azurite() -> Iterator[Azurite]:
    port = free_port()
    location = Path(tempfile.mkdtemp(prefix="gridos-azurite-"))
    log = (location / "azurite.log").open("wb")
    key = base64.b64encode(secrets.token_bytes(64)).decode()
    proc = subprocess.Popen(
        [
            "node",
            str(MAIN),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(location),
            "--skipApiVersionCheck",
            "--loose",
            "--silent",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=os.environ | {"AZURITE_ACCOUNTS": f"{ACCOUNT}:{key}"},
    )
    try:
        wait_ready(proc, listening("127.0.0.1", port), "azurite", location / "azurite.log")
        yield Azurite(port, key)
    finally:
        stop(proc, timeout=2)
        log.close()
        shutil.rmtree(location, ignore_errors=True)
