"""The operator page is served without a token and reads only the public API."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_operator_view_served(client: TestClient) -> None:
    r = client.get("/", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert "/api/v1/scada/status" in r.text and "/api/v1/alarms" in r.text
