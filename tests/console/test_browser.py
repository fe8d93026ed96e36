"""The operator console in Debian's Chromium against a real GridOS process fed by the simulated fleet:
the proof bullets of issue 12. One server and one browser for the module; each test its own page."""

from __future__ import annotations

import itertools
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.support.console import AXE, ConsoleServer, post_samples, register

pytestmark = pytest.mark.slow


def open_console(page, console: ConsoleServer, token: str | None = None, view: str = "/") -> None:  # type: ignore[no-untyped-def]
    page.goto(console.console_url(token))
    page.wait_for_selector("#conn:text('LIVE')", timeout=10_000)
    if view != "/":
        page.evaluate(f"location.hash = '#{view}'")


def wait_js(page, expression: str, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    """page.wait_for_function evaluates a string, which the console's CSP (no 'unsafe-eval') refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(100)


def api(console: ConsoleServer) -> httpx.Client:
    return console.server.client()


def alarm_row(page, device_id: str, condition: str = "H high"):  # type: ignore[no-untyped-def]
    return page.locator("#alarm-table tbody tr", has=page.locator(f"a:text-is('{device_id}')")).filter(
        has_text=condition
    )


def test_sign_in_keeps_the_token_in_memory_only(page, console: ConsoleServer) -> None:  # type: ignore[no-untyped-def]
    open_console(page, console)
    assert "token" not in page.url
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    # A static GRIDOS_API_TOKENS token names no person: identity calls it "bootstrap token".
    assert page.locator("#user").inner_text() == "Signed in as bootstrap token (operator)"
    # A wrong token: a sign-in form that says so, nothing stale on screen.
    page.goto(f"{console.url}/#token=wrong")
    page.wait_for_selector("text=That token was refused (401).", timeout=5_000)
    # No OIDC configured here: no organisation sign-in link that would lead to a 404, only the token form.
    assert page.locator("#oidc-signin").count() == 0
    assert page.locator("label[for=token-input]").inner_text() == "API token"
    assert page.locator("body").get_attribute("class") == "disconnected"


def test_alarm_appears_within_2s_and_is_announced(page, console: ConsoleServer, screenshots: Path) -> None:  # type: ignore[no-untyped-def]
    register(console, [{"id": "north/probe-1", "type": "meter", "site": "north", "nominal_voltage": 400}])
    open_console(page, console, view="/alarms")
    page.wait_for_selector("#alarm-table")
    post_samples(console, {"device_id": "north/probe-1", "voltage": 428.0})  # 1.07 pu: H
    sent = time.monotonic()
    alarm_row(page, "north/probe-1").wait_for(timeout=2_000)
    assert time.monotonic() - sent < 2.0
    row = alarm_row(page, "north/probe-1")
    assert "428.0 V" in row.inner_text() and "420.0 V" in row.inner_text()  # value and limit, with units
    assert "unacked" in (row.get_attribute("class") or "")
    wait_js(page, "document.getElementById('announcer').textContent.includes('north/probe-1')", 2)
    assert "medium alarm" in page.locator("#announcer").inner_text()
    page.screenshot(path=str(screenshots / "console-alarms.png"))


def test_acknowledge_shelve_comment_and_the_audit_shows_who(
    page, console: ConsoleServer, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    register(console, [{"id": "north/probe-2", "type": "meter", "site": "north", "nominal_voltage": 400}])
    post_samples(console, {"device_id": "north/probe-2", "voltage": 430.0})
    open_console(page, console, view="/alarms?site=north")
    row = alarm_row(page, "north/probe-2")
    row.wait_for(timeout=5_000)
    row.get_by_role("button", name=re.compile("^Ack ")).click()
    wait_js(
        page,
        "[...document.querySelectorAll('#alarm-table tr')].some(r => r.textContent.includes('north/probe-2')"
        " && r.textContent.includes('Active, acknowledged'))",
        5,
    )
    # What the server refuses is shown: acknowledging an acknowledged alarm is a 409.
    row = alarm_row(page, "north/probe-2")
    row.locator("input[type=checkbox]").check()
    page.click("#ack-selected")
    page.wait_for_selector("#toast:has-text('409')", timeout=5_000)
    assert "nothing to acknowledge" in page.locator("#toast").inner_text()
    # Shelve needs a reason and a duration.
    alarm_row(page, "north/probe-2").get_by_role("button", name=re.compile("^Shelve")).click()
    page.fill("#shelve-form textarea", "sensor swap scheduled")
    page.select_option("#shelve-form select", "900")
    page.click("#shelve-form button[value=ok]")
    wait_js(
        page,
        "[...document.querySelectorAll('#alarm-table tr')].some(r => r.textContent.includes('north/probe-2')"
        " && r.textContent.includes('Shelved until'))",
        5,
    )
    alarm_row(page, "north/probe-2").get_by_role("button", name=re.compile("^Comment")).click()
    page.fill("#comment-form textarea", "crew informed")
    page.click("#comment-form button[value=ok]")
    alarm_row(page, "north/probe-2").filter(has_text="operator: crew informed").wait_for(timeout=5_000)
    alarm_row(page, "north/probe-2").get_by_role("button", name=re.compile("^Unshelve")).click()
    alarm_row(page, "north/probe-2").get_by_role("button", name=re.compile("^Shelve")).wait_for(timeout=5_000)
    # The journal shows who did what and why.
    page.evaluate("location.hash = '#/journal'")
    page.fill("#journal-form input[name=device]", "north/probe-2")
    page.click("#journal-form button[type=submit]")
    history = page.locator("#history tbody")
    wait_js(
        page,
        "[...document.querySelectorAll('#history tbody tr')].every(r => r.textContent.includes('north/probe-2'))"
        " && document.querySelector('#history tbody').textContent.includes('unshelve')",
    )
    rows = {
        r.locator("td").nth(5).inner_text(): (
            r.locator("td.who").inner_text(),
            r.locator("td").nth(10).inner_text(),
        )
        for r in history.locator("tr").all()
    }
    assert rows["ack"][0] == "operator"
    assert rows["shelve"] == ("operator", "sensor swap scheduled")
    assert rows["comment"] == ("operator", "crew informed")
    assert rows["unshelve"][0] == "operator"
    with page.expect_download() as download:
        page.click("#export-alarms")
    csv = Path(download.value.path()).read_text()
    assert csv.startswith("id,at_utc,alarm_id") and "sensor swap scheduled" in csv
    page.screenshot(path=str(screenshots / "console-journal.png"), full_page=True)


def test_a_viewer_is_refused_and_told_why(page, console: ConsoleServer) -> None:  # type: ignore[no-untyped-def]
    register(console, [{"id": "north/probe-3", "type": "meter", "site": "north", "nominal_voltage": 400}])
    post_samples(console, {"device_id": "north/probe-3", "voltage": 430.0})
    open_console(page, console, token=console.viewer_token, view="/alarms?site=north")
    row = alarm_row(page, "north/probe-3")
    row.wait_for(timeout=5_000)
    row.get_by_role("button", name=re.compile("^Ack ")).click()
    page.wait_for_selector("#toast:has-text('403')", timeout=5_000)
    assert "may not do this" in page.locator("#toast").inner_text()


def test_voltage_out_of_range_at_either_end_shows_abnormal(
    page, console: ConsoleServer, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    register(
        console,
        [
            {"id": "south/probe-hi", "type": "meter", "site": "south", "nominal_voltage": 400},
            {"id": "east/probe-lo", "type": "meter", "site": "east", "nominal_voltage": 400},
        ],
    )
    open_console(page, console)
    post_samples(
        console,
        [
            {"device_id": "south/probe-hi", "voltage": 458.0},  # 1.145 pu: the max end
            {"device_id": "east/probe-lo", "voltage": 340.0},  # 0.85 pu: the min end
        ],
    )
    south = page.locator("a.tile[data-site=south]")
    east = page.locator("a.tile[data-site=east]")
    south.locator(".abn", has_text="1.145 HIGH").wait_for(timeout=8_000)
    east.locator(".abn", has_text="0.850 LOW").wait_for(timeout=8_000)
    # The healthy end of each envelope stays unmarked.
    assert south.locator(".abn", has_text="LOW").count() == 0
    assert east.locator(".abn", has_text="HIGH").count() == 0
    page.screenshot(path=str(screenshots / "console-overview.png"), full_page=True)


def test_one_line_diagram_shows_a_breaker_opening(page, console: ConsoleServer, screenshots: Path) -> None:  # type: ignore[no-untyped-def]
    register(
        console,
        [
            {
                "id": "north/cb-probe",
                "type": "breaker",
                "site": "north",
                "nominal_voltage": 11000,
                "upstream": ["north/bus-1"],
            }
        ],
    )
    post_samples(console, {"device_id": "north/cb-probe", "breaker_closed": True, "current": 120.0})
    open_console(page, console, view="/site/north")
    breaker = page.locator("svg.oneline rect[data-breaker='north/cb-probe']")
    page.wait_for_selector(
        "svg.oneline rect[data-breaker='north/cb-probe'][data-state=closed]", timeout=5_000
    )
    # Drawn from the topology: the bus, both incomers and every outgoing breaker.
    for device in (
        "north/bus-1",
        "north/cb-1",
        "north/cb-2",
        "north/cb-6",
        "north/feeder-8",
        "north/meter-2",
    ):
        assert page.locator(f"svg.oneline a[href='#/device/{device}']").count() == 1, device
    # Wires of different feeds never share a horizontal run (a drawing that did showed three breakers'
    # feeders on one line, as if tied together below the breakers).
    runs = page.eval_on_selector_all(
        "svg.oneline path.wire[data-from]",
        "ps => ps.map(p => [p.dataset.from, p.getAttribute('d')])",
    )
    wire = re.compile(r"M([-\d.]+) [-\d.]+ V([-\d.]+) H([-\d.]+) V[-\d.]+")
    horizontal = []
    for source, path in runs:
        start, mid, end = (float(v) for v in wire.fullmatch(path).groups())  # type: ignore[union-attr]
        horizontal.append((source, mid, min(start, end), max(start, end)))
    assert len(horizontal) > 10
    for a, b in itertools.combinations(horizontal, 2):
        if a[0] != b[0] and a[1] == b[1]:
            assert a[3] <= b[2] or b[3] <= a[2], f"wires from {a[0]} and {b[0]} overlap"
    post_samples(console, {"device_id": "north/cb-probe", "breaker_closed": False, "current": 0.0})
    page.wait_for_selector("svg.oneline rect[data-breaker='north/cb-probe'][data-state=open]", timeout=4_000)
    assert page.locator("svg.oneline text[data-breaker-label='north/cb-probe']").text_content() == "OPEN"
    assert "open" in (breaker.get_attribute("class") or "")
    page.screenshot(path=str(screenshots / "console-site.png"), full_page=True)


def test_trend_shows_stored_points_and_limits(page, console: ConsoleServer, screenshots: Path) -> None:  # type: ignore[no-untyped-def]
    with api(console) as c:
        deadline = time.monotonic() + 15  # the fleet reports every second
        while True:
            params = {"device_id": "north/tx-1", "measurement": "voltage"}
            stored = c.get("/api/v1/scada/data", params=params).json()
            if len(stored["points"]) > 3 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert len(stored["points"]) > 3
    open_console(page, console, view="/device/north/tx-1")
    page.wait_for_selector("#chart canvas", timeout=10_000)
    wait_js(page, "Number(document.getElementById('chart').dataset.points) > 3")
    shown = int(page.locator("#chart").get_attribute("data-points") or 0)
    assert shown >= len(stored["points"])  # everything stored in the hour (and what arrived since)
    assert (
        "HH 12100.0 V" in page.locator("#chart-info").inner_text()
    )  # limits, at the measurement's precision
    # Several measurements on one chart, and the min-max band of the rollups.
    page.check("#trend-form input[value=current]")
    page.select_option("#trend-form select[name=mode]", "band")
    wait_js(page, "document.getElementById('chart-info').textContent.includes('min-max buckets')")
    assert page.locator(".u-legend").inner_text().count("max") >= 2
    assert page.locator("#latest tr[data-measurement=voltage]").inner_text().endswith("UTC")
    assert page.locator("#clock").inner_text().endswith(" UTC")
    # The UTC/local switch: the browser runs in New York (see conftest); every time follows.
    page.click("#tz")
    assert page.locator("#clock").inner_text().endswith(" EST")
    page.locator("#latest tr[data-measurement=voltage]", has_text="EST").wait_for(timeout=3_000)
    page.click("#tz")
    page.wait_for_selector("#chart canvas", timeout=10_000)  # the view is redrawn in the chosen zone
    wait_js(page, "document.getElementById('chart-info').textContent.includes('min-max buckets')")
    page.screenshot(path=str(screenshots / "console-device.png"), full_page=True)


def test_150_active_alarms_are_all_reachable(page, console: ConsoleServer) -> None:  # type: ignore[no-untyped-def]
    ids = [f"lab/m-{i:03d}" for i in range(150)]
    register(console, [{"id": i, "type": "meter", "site": "lab", "nominal_voltage": 400} for i in ids])
    post_samples(console, [{"device_id": i, "voltage": 428.0} for i in ids])
    with api(console) as c:
        deadline = time.monotonic() + 10
        while (
            c.get("/api/v1/alarms", params={"site": "lab"}).json()["total"] < 150
            and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        flood = c.get("/api/v1/alarms/flood").json()
    open_console(page, console, view="/alarms?site=lab")
    page.wait_for_selector("#alarm-count:has-text('of 150 matching')", timeout=5_000)
    seen: set[str] = set()
    for n in range(3):
        assert f"Showing {n * 50 + 1}\u2013{n * 50 + 50} of 150" in page.locator("#alarm-count").inner_text()
        seen |= set(page.locator("#alarm-table tbody td:nth-child(4)").all_inner_texts())
        if n < 2:
            page.click("#alarm-pager [data-next]")
    assert seen == set(ids)
    assert page.locator("#alarm-pager [data-next]").is_disabled()
    # The banner's counts add up to the whole list, and a flood is announced when the server says so.
    counts = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('#alarm-summary [data-count]')]"
        ".map(e => [e.dataset.count, Number(e.textContent.match(/\\d+/)[0])]))"
    )
    with api(console) as c:
        everything = c.get("/api/v1/alarms", params={"limit": 10000}).json()
    hidden = sum(1 for a in everything["items"] if a["state"] in ("suppressed", "out_of_service"))
    assert sum(counts[p] for p in ("critical", "high", "medium", "low")) + counts["shelved"] + hidden >= 150
    assert (
        abs(
            sum(counts[p] for p in ("critical", "high", "medium", "low"))
            + counts["shelved"]
            + hidden
            - everything["total"]
        )
        <= 5
    )
    if flood["active"]:
        page.wait_for_selector("#flood:has-text('ALARM FLOOD')", timeout=5_000)


def test_accessibility_scan_has_no_serious_violations(browser, console: ConsoleServer) -> None:  # type: ignore[no-untyped-def]
    # axe-core is injected as a script, which the page's CSP forbids: this context alone bypasses it.
    context = browser.new_context(viewport={"width": 1024, "height": 768}, bypass_csp=True)
    page = context.new_page()
    try:
        open_console(page, console)
        found = {}
        for view in ("/", "/alarms", "/site/east", "/device/east/tx-1", "/journal"):
            page.evaluate(f"location.hash = '#{view}'")
            page.wait_for_timeout(500)
            page.add_script_tag(path=str(AXE))
            result = page.evaluate(
                "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            )
            bad = [
                (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
                for v in result["violations"]
                if v["impact"] in ("serious", "critical")
            ]
            found[view] = bad
        assert not any(found.values()), found
    finally:
        context.close()


def test_stopping_the_server_greys_the_page_within_5s_and_it_recovers(
    page, console: ConsoleServer, screenshots: Path
) -> None:  # type: ignore[no-untyped-def]
    open_console(page, console, view="/site/south")
    page.wait_for_selector("svg.oneline text.val:not(.stale)", timeout=5_000)
    console.server.kill()
    stopped = time.monotonic()
    page.wait_for_selector("#conn.stale:has-text('STALE since')", timeout=5_000)
    assert time.monotonic() - stopped < 5.0
    assert page.locator("body").get_attribute("class") == "disconnected"
    # Every live value is greyed (computed style), not only the banner.
    grey = page.evaluate(
        "[...document.querySelectorAll('svg.oneline text.val')].every(t => getComputedStyle(t).fill === 'rgb(89, 89, 89)')"
    )
    assert grey
    page.screenshot(path=str(screenshots / "console-stale.png"), full_page=True)
    console.server.start()
    page.wait_for_selector("#conn:text('LIVE')", timeout=15_000)
    assert page.locator("body").get_attribute("class") == ""


def test_no_page_contacts_another_host_and_docs_work_offline(
    page, console: ConsoleServer, foreign_requests: list[str]
) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{console.url}/docs")
    page.wait_for_selector(".swagger-ui .info .title:has-text('GridOS')", timeout=10_000)
    page.locator(".opblock-summary-path", has_text="/api/v1/live").first.wait_for(timeout=5_000)
    assert not foreign_requests, foreign_requests


def test_an_idle_console_costs_at_most_one_request_per_10s(page, console: ConsoleServer) -> None:  # type: ignore[no-untyped-def]
    """Values, status and alarm transitions all arrive on the one open stream (transitions carry the
    alarm): with the fleet streaming and alarms changing, the page makes no request of its own."""
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    open_console(page, console, view="/site/north")
    page.wait_for_timeout(1_000)
    before = len(requests)
    page.wait_for_timeout(10_000)
    assert len(requests) - before <= 1, requests[before:]
    assert page.locator("#conn").inner_text() == "LIVE"  # the stream stayed up all along
