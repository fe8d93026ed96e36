"""The console page and /docs are served without a token, from the package, under a CSP without inline code."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_operator_console_served(client: TestClient) -> None:
    r = client.get("/", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert '<script type="module" src="/static/js/app.js">' in r.text
    assert "<script>" not in r.text and "style=" not in r.text  # nothing inline: the CSP would block it
    assert client.get("/static/js/app.js", headers={"Authorization": ""}).status_code == 200
