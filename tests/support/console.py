"""The operator console under test: a real GridOS process with the simulated fleet, and Debian's Chromium
driven by Playwright. Shared by tests/console and benchmarks/console.py."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.servers import GridosServer, start_gridos
from tests.support.wait import eventually

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# axe-core from npm: node_modules when `npm ci` ran, else the copy scripts/vendor-web-assets.py made.
AXE = next(
    (
        p
        for p in (
            ROOT / "node_modules/axe-core/axe.min.js",
            ROOT / "tests/support/vendor/axe-core/axe.min.js",
        )
        if p.exists()
    ),
    ROOT / "tests/support/vendor/axe-core/axe.min.js",
)


@dataclass
class ConsoleServer:
    server: GridosServer
    operator_token: str
    viewer_token: str
    simulator: threading.Event | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.server.url

    def console_url(self, token: str | None = None, path: str = "/") -> str:
        return f"{self.url}/#token={token or self.operator_token}" if path == "/" else f"{self.url}{path}"


@contextmanager
def console_server(
    tmp: Path, simulate: bool = True, interval: float = 1.0, env: dict[str, str] | None = None
) -> Iterator[ConsoleServer]:
    """GridOS with admin, operator, viewer and ingest tokens; with `simulate`, the demo fleet streams every
    `interval` seconds from a thread of this process, over HTTP like `gridos demo`."""
    server = start_gridos(tmp, env=env, start=False)
    operator, viewer = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    server.env["GRIDOS_API_TOKENS"] += f",operator:{operator},viewer:{viewer}"
    server.start()
    stop = None
    try:
        if simulate:
            from gridos.simulator.fleet import run_in_background

            stop = run_in_background(server.url, server.ingest_token, server.admin_token, interval)
        yield ConsoleServer(server, operator, viewer, stop)
    finally:
        if stop is not None:
            stop.set()
        server.stop()


def post_samples(console: ConsoleServer, body: object) -> None:
    r = httpx.post(
        f"{console.url}/api/v1/scada/data",
        json=body,
        headers={"Authorization": f"Bearer {console.server.admin_token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def register(console: ConsoleServer, devices: list[dict[str, object]]) -> None:
    with httpx.Client(
        base_url=console.url, headers={"Authorization": f"Bearer {console.server.admin_token}"}, timeout=10
    ) as api:
        for d in devices:
            body = {k: v for k, v in d.items() if k != "id"}
            r = api.put(f"/api/v1/devices/{d['id']}", json=body)
            assert r.status_code in (200, 201), r.text


def wait_js(page, expression: str, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """Until `expression` is truthy in the page. page.wait_for_function evaluates a string, which the
    console's CSP (no 'unsafe-eval') refuses."""
    eventually(lambda: page.evaluate(expression), timeout, f"{expression} in the page", interval=0.1)
