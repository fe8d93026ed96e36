"""Issue 12 item 8 with identity (issue 13): an operator signs in to the console through a real OpenID
Provider (npm oidc-provider, tests/support/oidc.py) in Debian's Chromium, acts with the session cookie and
its CSRF token, watches the live stream on that cookie, and signs out. Its own GridOS (configured for OIDC)
without the simulator: one probe device is enough, and it starts in a few seconds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.console import ConsoleServer, post_samples, register, wait_js
from tests.support.oidc import running_oidc_provider
from tests.support.servers import start_gridos

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def oidc_console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleServer]:
    tmp = tmp_path_factory.mktemp("console-oidc")
    server = start_gridos(tmp, start=False)  # its URL is known before it starts: the provider needs it
    with running_oidc_provider(tmp, f"{server.url}/auth/callback") as oidc:
        server.env.update(oidc.env())
        server.start()
        try:
            yield ConsoleServer(server, operator_token="", viewer_token="")
        finally:
            server.stop()


def fetch_status(page, method: str, path: str, headers: dict[str, str] | None = None) -> int:  # type: ignore[no-untyped-def]
    """A request from the page itself, with its cookies (what a script of the page could do)."""
    status: int = page.evaluate(
        "([m, p, h]) => fetch(p, {method: m, headers: h, credentials: 'same-origin'}).then(r => r.status)",
        [method, path, headers or {}],
    )
    return status


def test_operator_signs_in_through_the_provider_acks_and_signs_out(
    browser, oidc_console: ConsoleServer, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    console = oidc_console
    register(console, [{"id": "west/probe-1", "type": "meter", "site": "west", "nominal_voltage": 400}])
    post_samples(console, {"device_id": "west/probe-1", "voltage": 430.0})  # 1.075 pu: H
    # The module's Chromium (tests/console/conftest.py), a fresh context: no cookie of another test.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    sent: list[tuple[str, dict[str, str]]] = []
    context.on("request", lambda r: sent.append((r.url, r.headers)))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    try:
        # Signed out: the console offers the organisation sign-in (OIDC is configured here).
        page.goto(console.url + "/")
        link = page.locator("#oidc-signin")
        link.wait_for(timeout=10_000)
        link.click()
        # The provider's own login form, on its own origin.
        page.wait_for_selector("input[name=login]", timeout=10_000)
        assert not page.url.startswith(console.url)
        page.fill("input[name=login]", "ada")
        page.fill("input[name=password]", "any")
        page.locator("button[type=submit]").first.click()
        # Back to the console, with a session cookie.
        page.wait_for_selector("#conn:text('LIVE')", timeout=10_000)
        assert page.url.startswith(console.url + "/")
        assert page.locator("#user").inner_text() == "Signed in as ada@grid.example (operator)"
        cookies = {c["name"]: c for c in context.cookies(console.url)}
        assert cookies["gridos_session"]["httpOnly"] and cookies["gridos_session"]["sameSite"] == "Lax"

        # Acknowledge: a cookie write carrying X-CSRF-Token; the same write without it is refused.
        page.evaluate("location.hash = '#/alarms?site=west'")
        row = page.locator("#alarm-table tbody tr", has=page.locator("a:text-is('west/probe-1')"))
        row.wait_for(timeout=5_000)
        alarm_id = httpx.get(
            f"{console.url}/api/v1/alarms",
            params={"device_id": "west/probe-1"},
            headers={"Authorization": f"Bearer {console.server.admin_token}"},
        ).json()["items"][0]["id"]
        assert fetch_status(page, "POST", f"/api/v1/alarms/{alarm_id}/ack") == 403
        row.get_by_role("button", name="Ack").first.click()
        wait_js(
            page,
            "[...document.querySelectorAll('#alarm-table tr')].some(r => r.textContent.includes('west/probe-1')"
            " && r.textContent.includes('Active, acknowledged'))",
        )
        ack = next(
            (h for u, h in sent if u.endswith(f"/api/v1/alarms/{alarm_id}/ack") and "x-csrf-token" in h), None
        )
        assert ack is not None and "authorization" not in ack

        # The live stream works on the cookie: a new alarm is pushed to the open page.
        register(console, [{"id": "west/probe-2", "type": "meter", "site": "west", "nominal_voltage": 400}])
        post_samples(console, {"device_id": "west/probe-2", "voltage": 432.0})
        page.locator("#alarm-table tbody tr", has=page.locator("a:text-is('west/probe-2')")).wait_for(
            timeout=5_000
        )
        live = [h for u, h in sent if u.startswith(f"{console.url}/api/v1/live")]
        assert live and all("authorization" not in h for h in live)

        # The journal names the person who acknowledged (from the session, not from a body field).
        page.evaluate("location.hash = '#/journal'")
        page.fill("#journal-form input[name=device]", "west/probe-1")
        page.click("#journal-form button[type=submit]")
        # The search's answer, not the unfiltered list shown first (here it also holds west/probe-2).
        wait_js(
            page,
            "(rows => rows.length > 0 && rows.every(r => r.textContent.includes('west/probe-1'))"
            " && rows.some(r => r.children[5].textContent === 'ack'))"
            "([...document.querySelectorAll('#history tbody tr')])",
        )
        who = dict(
            page.evaluate(
                "[...document.querySelectorAll('#history tbody tr')]"
                ".map(r => [r.children[5].textContent, r.querySelector('td.who').textContent])"
            )
        )
        assert who["ack"] == "operator:ada@grid.example (ada)"
        page.screenshot(path=str(screenshots / "console-signed-in.png"))

        # No credential anywhere in the page: not in the address, storage, script-visible cookies or
        # any request header.
        assert "token" not in page.url and "code=" not in page.url
        assert page.evaluate("localStorage.length + sessionStorage.length") == 0
        assert "gridos_session" not in page.evaluate("document.cookie")
        assert not [u for u, h in sent if u.startswith(console.url) and "authorization" in h]

        # Sign out: the session ends here, then at the provider (its confirmation page), and the provider
        # sends the browser back to the console's signed-out page.
        csrf = {"X-CSRF-Token": ack["x-csrf-token"]}
        page.click("#signout")
        page.locator("button[name=logout][value=yes]").click(timeout=10_000)
        page.locator("#oidc-signin").wait_for(timeout=10_000)
        assert page.url.startswith(console.url + "/")
        assert page.locator("#signout").is_hidden() and page.locator("#user").inner_text() == ""
        assert "gridos_session" not in {c["name"] for c in context.cookies(console.url)}
        assert fetch_status(page, "GET", "/api/v1/me") == 401
        assert fetch_status(page, "POST", f"/api/v1/alarms/{alarm_id}/ack", csrf) == 401
        # Signed out at the provider too: signing in again asks for the login form, not straight back in.
        page.click("#oidc-signin")
        page.wait_for_selector("input[name=login]", timeout=10_000)
    finally:
        context.close()
    assert not errors, errors
