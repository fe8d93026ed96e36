"""Real GridOS processes for tests: `python -m gridos serve` on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.postgres import free_port
from tests.support.process import http_ok, stop, wait_ready


@dataclass
class GridosServer:
    url: str
    port: int
    admin_token: str
    ingest_token: str
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> GridosServer:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gridos", "serve"], env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        wait_ready(self.proc, http_ok(f"{self.url}/health/ready"), "gridos", self.log_path, timeout)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush. What a crash or an OOM kill looks like."""
        if self.proc:
            stop(self.proc, signal.SIGKILL)

    def stop(self) -> None:
        if self.proc:
            stop(self.proc, timeout=30)

    def client(self, token: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token or self.admin_token}"}, timeout=30
        )

    def __enter__(self) -> GridosServer:
        return self

    def __exit__(self, *exc: tuple[type[BaseException], BaseException, TracebackType] | None) -> None:
        self.stop()


def start_gridos(tmp_path: Path, env: dict[str, str] | None = None, start: bool = True) -> GridosServer:
    """Start GridOS with an admin and an ingest token. Without GRIDOS_DATABASE_URL in `env` it uses a
    SQLite file in tmp_path. Use as a context manager, or call .stop()."""
    port = free_port()
    admin, ingest = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")}
    full_env.update(
        {
            "GRIDOS_PORT": str(port),
            "GRIDOS_HOST": "127.0.0.1",
            "GRIDOS_API_TOKENS": f"admin:{admin},ingest:{ingest}",
            "GRIDOS_DATABASE_URL": f"sqlite:///{tmp_path / 'gridos.db'}",
            "GRIDOS_SHUTDOWN_GRACE_SECONDS": "5",
        }
    )
    if env and env.get("GRIDOS_DATABASE_URL", "").startswith("postgresql"):
        full_env["GRIDOS_AUTO_MIGRATE"] = "true"
    full_env.update(env or {})
    server = GridosServer(
        url=f"http://127.0.0.1:{port}",
        port=port,
        admin_token=admin,
        ingest_token=ingest,
        env=full_env,
        log_path=tmp_path / f"gridos-{port}.log",
    )
    return server.start() if start else server


def gridos_env(**overrides: str) -> dict[str, str]:
    """The process environment without any GRIDOS_* of the caller, plus `overrides`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")} | overrides


def run_gridos(
    *args: str, env: dict[str, str], cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m gridos ARGS` to completion (for commands that exit by themselves)."""
    return subprocess.run(
        [sys.executable, "-m", "gridos", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
