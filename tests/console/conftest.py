"""One GridOS with the simulator and one Chromium for the whole console module (they take seconds to
start); each test opens its own page."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.console import CHROMIUM, CHROMIUM_ARGS, ConsoleServer, console_server
from tests.support.wait import eventually


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    with console_server(tmp_path_factory.mktemp("console")) as c:
        # Wait until the fleet is registered and reporting.
        with c.server.client() as api:

            def reporting() -> bool:
                totals = api.get("/api/v1/scada/status").json()["totals"]
                return bool(totals["devices"] >= 58 and totals["reporting"] >= 58)

            eventually(reporting, 30, "the simulated fleet to report", interval=0.3)
        yield c


@pytest.fixture(scope="package")
def browser():  # type: ignore[no-untyped-def]
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="package")
def foreign_requests() -> list[str]:
    """Every request any console page made to another origin (filled by `page`, checked by a test)."""
    return []


@pytest.fixture
def page(browser, console: ConsoleServer, foreign_requests: list[str]):  # type: ignore[no-untyped-def]
    # A browser zone other than UTC, so the UTC/local switch has something to show.
    context = browser.new_context(
        viewport={"width": 1280, "height": 860}, accept_downloads=True, timezone_id="America/New_York"
    )
    context.on(
        "request",
        lambda r: (
            None
            if r.url.startswith((console.url + "/", "data:", "blob:"))
            else foreign_requests.append(r.url)
        ),
    )
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.errors = errors  # type: ignore[attr-defined]
    yield pg
    context.close()
    # A script error or a CSP violation (e.g. an inline script) shows up here.
    assert not [e for e in errors if "Failed to load resource" not in e], errors


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/img when GRIDOS_UPDATE_SCREENSHOTS=1 (`make console-screenshots`), else a temporary directory."""
    if os.environ.get("GRIDOS_UPDATE_SCREENSHOTS") == "1":
        target = Path(__file__).resolve().parents[2] / "docs/img"
        target.mkdir(exist_ok=True)
        return target
    return tmp_path_factory.mktemp("screenshots")
