"""Child processes of the tests (GridOS, Prometheus, Mosquitto, oidc-provider, Azurite, ...): wait until
one is ready, and stop it."""

from __future__ import annotations

import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.support.wait import eventually


def tail(log: Path, chars: int = 2000) -> str:
    """The end of a process's log, for the message of a failed start."""
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return ""


def wait_ready(
    proc: subprocess.Popen[bytes],
    ready: Callable[[], bool],
    what: str,
    log: Path,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> None:
    """Poll `ready` until it holds. RuntimeError with the log's tail when the process exits first, or (after
    stopping it) when it is not ready within `timeout` seconds."""

    def check() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}: {tail(log)}")
        return ready()

    try:
        eventually(check, timeout=timeout, interval=interval, what=what)
    except AssertionError:
        stop(proc)
        raise RuntimeError(f"{what} did not become ready within {timeout:g} s: {tail(log)}") from None


def http_ok(url: str, status: int = 200) -> Callable[[], bool]:
    """Ready when GET `url` answers `status`."""

    def ready() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code == status
        except httpx.HTTPError:
            return False

    return ready


def listening(host: str, port: int) -> Callable[[], bool]:
    """Ready when a TCP connection to host:port succeeds."""

    def ready() -> bool:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            return False

    return ready


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send `sig` (SIGTERM: let it shut down cleanly) and wait; SIGKILL after `timeout` seconds."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
