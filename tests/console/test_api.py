"""The server side of the console, on both backends: /api/v1/me, /docs served locally, the alarm comment
action, and the vendored front-end assets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.support.tokens import Tokens

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "src/gridos/web/static/vendor"


@pytest.mark.parametrize("role", ["admin", "operator", "viewer", "ingest"])
def test_me_for_bearer_tokens(client: TestClient, tokens: Tokens, role: str) -> None:
    r = client.get("/api/v1/me", headers=tokens.header(role))
    assert r.status_code == 200
    # A static bootstrap token is a role, not a person: gridos.identity names it so.
    assert r.json() == {
        "subject": f"token:{role}",
        "name": "bootstrap token",
        "role": role,
        "auth": "bearer",
        "csrf_token": None,
    }


def test_me_without_or_with_a_wrong_token_is_401(client: TestClient) -> None:
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer nope"}):
        r = client.get("/api/v1/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")


def test_docs_are_served_from_the_package(client: TestClient) -> None:
    r = client.get("/docs", headers={"Authorization": ""})
    assert r.status_code == 200
    assert "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js" in r.text
    assert "http://" not in r.text and "https://" not in r.text
    assert "unsafe-inline" not in r.headers["content-security-policy"]
    bundle = client.get("/static/vendor/swagger-ui-dist/swagger-ui-bundle.js", headers={"Authorization": ""})
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert client.get("/redoc").status_code == 404  # FastAPI's default loads ReDoc from a CDN
    spec = client.get("/openapi.json").json()
    assert "/api/v1/me" in spec["paths"] and "/api/v1/live" in spec["paths"]
    assert "/api/v1/alarms/{alarm_id}/comment" in spec["paths"]


def test_comment_is_journaled_with_who(client: TestClient, tokens: Tokens) -> None:
    client.put("/api/v1/devices/north/m-1", json={"type": "meter", "site": "north", "nominal_voltage": 400})
    assert (
        client.post("/api/v1/scada/data", json={"device_id": "north/m-1", "voltage": 430}).status_code == 200
    )
    alarm = client.get("/api/v1/alarms", params={"device_id": "north/m-1"}).json()["items"][0]
    r = client.post(
        f"/api/v1/alarms/{alarm['id']}/comment",
        json={"comment": "crew on site"},
        headers=tokens.header("operator"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == alarm["state"] and r.json()["last_comment"] == "crew on site"
    newest = client.get("/api/v1/alarms/history", params={"alarm_id": alarm["id"]}).json()["items"][0]
    assert (newest["action"], newest["actor"], newest["comment"]) == ("comment", "operator", "crew on site")
    assert client.post(f"/api/v1/alarms/{alarm['id']}/comment", json={"comment": ""}).status_code == 422
    r = client.post(
        f"/api/v1/alarms/{alarm['id']}/comment", json={"comment": "x"}, headers=tokens.header("viewer")
    )
    assert r.status_code == 403


def test_vendored_assets_match_node_modules_and_the_lockfile() -> None:
    """scripts/vendor-web-assets.py made the copies; they must be what package-lock.json pins."""
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    declared = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    packages = {}
    for vendor in (VENDOR, ROOT / "tests/support/vendor"):
        for package, entry in json.loads((vendor / "manifest.json").read_text()).items():
            packages[package] = (vendor, entry)
    assert set(packages) == {"uplot", "swagger-ui-dist", "axe-core"}
    for package, (vendor, entry) in packages.items():
        assert entry["version"] == lock[f"node_modules/{package}"]["version"] == declared[package], package
        for name, info in entry["files"].items():
            copy = vendor / package / name
            assert copy.stat().st_size == info["bytes"], copy
            installed = ROOT / "node_modules" / package / info["from"]
            if installed.exists():  # `npm ci` ran: the copy is the installed file
                assert installed.read_bytes() == copy.read_bytes(), (
                    f"{copy} differs: run scripts/vendor-web-assets.py"
                )


def test_console_files_name_no_other_host() -> None:
    static = ROOT / "src/gridos/web/static"
    for path in [*static.glob("*.html"), *static.glob("*.css"), *static.glob("js/*.js"), static / "docs.js"]:
        # Code, not comments; the SVG namespace is a name, not a request.
        code = "\n".join(line for line in path.read_text().splitlines() if not line.strip().startswith("//"))
        assert not re.search(r"https?://(?!www\.w3\.org/2000/svg)", code), path
        assert not re.search(r"(localStorage|sessionStorage)\s*[.\[]", code), path
