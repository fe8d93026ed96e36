"""Named API keys: shown once, stored hashed, scoped, rotated with an overlap, revoked, from the admin API
and from `gridos keys`."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from gridos.cli import app as cli
from tests.support.tokens import Tokens
from tests.support.wait import eventually

DEVICE = "north/gw-meter"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sample() -> dict[str, object]:
    return {"device_id": DEVICE, "timestamp": datetime.now(UTC).isoformat(), "voltage": 231.0}


@pytest.fixture
def gw(app: TestClient, tokens: Tokens) -> TestClient:
    app.put(
        f"/api/v1/devices/{DEVICE}",
        json={"type": "meter", "site": "north", "expected_interval_s": 5},
        headers=tokens.header("admin"),
    ).raise_for_status()
    return app


def create(app: TestClient, tokens: Tokens, name: str, *scopes: str, **extra: object) -> dict[str, object]:
    r = app.post(
        "/api/v1/keys", json={"name": name, "scopes": list(scopes), **extra}, headers=tokens.header("admin")
    )
    assert r.status_code == 201, r.text
    body: dict[str, object] = r.json()
    return body


def test_key_is_shown_once_stored_hashed_and_named_by_prefix(
    gw: TestClient, tokens: Tokens, database_url: str
) -> None:
    key = create(gw, tokens, "gateway-north-1", "ingest")
    token = str(key["token"])
    assert token.startswith(f"gk_{key['prefix']}_") and len(token) > 40
    assert gw.post("/api/v1/keys", json={}, headers=tokens.header("admin")).status_code == 422
    listed = gw.get("/api/v1/keys", headers=tokens.header("admin")).json()
    assert [(k["prefix"], k["name"], k["scopes"], k["state"]) for k in listed] == [
        (key["prefix"], "gateway-north-1", ["ingest"], "active")
    ]
    assert "token" not in listed[0] and token not in json.dumps(listed)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT * FROM api_keys")).mappings().one()
    engine.dispose()
    assert token not in json.dumps(dict(stored), default=str)
    assert len(stored["secret_hash"]) == 64 and stored["created_by"] == "admin"


def test_scopes_ingest_only_and_read_only(gw: TestClient, tokens: Tokens) -> None:
    ingest = bearer(str(create(gw, tokens, "gw", "ingest")["token"]))
    read = bearer(str(create(gw, tokens, "dashboard", "read")["token"]))
    both = bearer(str(create(gw, tokens, "smoke-test", "ingest", "read")["token"]))
    assert gw.post("/api/v1/scada/data", json=sample(), headers=ingest).status_code == 200
    assert gw.get("/api/v1/scada/status", headers=ingest).status_code == 403
    assert gw.get("/api/v1/scada/status", headers=read).status_code == 200
    assert gw.post("/api/v1/scada/data", json=sample(), headers=read).status_code == 403
    assert gw.post("/api/v1/alarms/1/ack", json={}, headers=read).status_code == 403
    assert gw.post("/api/v1/scada/data", json=sample(), headers=both).status_code == 200
    assert gw.get("/api/v1/scada/status", headers=both).status_code == 200
    me = gw.get("/api/v1/me", headers=ingest).json()
    assert me["auth"] == "key" and me["name"] == "gw" and me["subject"].startswith("key:")
    listed = {k["name"]: k for k in gw.get("/api/v1/keys", headers=tokens.header("admin")).json()}
    assert listed["gw"]["last_used_at"] is not None  # when it was last used
    bad = gw.post("/api/v1/keys", json={"name": "x", "scopes": ["admin"]}, headers=tokens.header("admin"))
    assert bad.status_code == 422 and "scope" in bad.json()["detail"]


def test_rotation_overlap_then_old_key_refused(gw: TestClient, tokens: Tokens) -> None:
    old = create(gw, tokens, "gateway-east", "ingest")
    r = gw.post(
        f"/api/v1/keys/{old['prefix']}/rotate", json={"overlap_seconds": 2}, headers=tokens.header("admin")
    )
    assert r.status_code == 201, r.text
    new = r.json()
    assert new["name"] == "gateway-east" and new["scopes"] == ["ingest"] and new["prefix"] != old["prefix"]
    assert new["previous"]["replaced_by"] == new["prefix"]
    # During the overlap both keys work: the fleet is re-keyed gateway by gateway.
    for token in (old["token"], new["token"]):
        assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(str(token))).status_code == 200
    eventually(
        lambda: (
            gw.post("/api/v1/scada/data", json=sample(), headers=bearer(str(old["token"]))).status_code != 200
        ),
        10,
        "the old key to end with its overlap",
        interval=0.25,
    )
    refused = gw.post("/api/v1/scada/data", json=sample(), headers=bearer(str(old["token"])))
    assert refused.status_code == 401
    assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(str(new["token"]))).status_code == 200
    states = {k["prefix"]: k["state"] for k in gw.get("/api/v1/keys", headers=tokens.header("admin")).json()}
    assert states == {old["prefix"]: "expired", new["prefix"]: "active"}
    again = gw.post(f"/api/v1/keys/{old['prefix']}/rotate", json={}, headers=tokens.header("admin"))
    assert again.status_code == 409


def test_revocation_is_immediate_and_expiry_is_enforced(gw: TestClient, tokens: Tokens) -> None:
    key = create(gw, tokens, "ci-smoke", "read")
    assert gw.get("/api/v1/scada/status", headers=bearer(str(key["token"]))).status_code == 200
    assert gw.delete(f"/api/v1/keys/{key['prefix']}", headers=tokens.header("admin")).status_code == 204
    assert gw.get("/api/v1/scada/status", headers=bearer(str(key["token"]))).status_code == 401
    assert gw.delete("/api/v1/keys/nosuch", headers=tokens.header("admin")).status_code == 404
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    short = create(gw, tokens, "temporary", "read", expires_at=soon)
    assert gw.get("/api/v1/scada/status", headers=bearer(str(short["token"]))).status_code == 200
    time.sleep(1.1)
    assert gw.get("/api/v1/scada/status", headers=bearer(str(short["token"]))).status_code == 401
    past = gw.post(
        "/api/v1/keys",
        json={"name": "x", "scopes": ["read"], "expires_at": soon},
        headers=tokens.header("admin"),
    )
    assert past.status_code == 422


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gridos_keys_command(
    gw: TestClient, tokens: Tokens, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDOS_DATABASE_URL", database_url)
    runner = CliRunner()
    created = runner.invoke(cli, ["keys", "create", "gateway-west", "--scope", "ingest"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout)
    # A key made on the command line works against the service sharing the database.
    assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(key["token"])).status_code == 200
    listed = json.loads(runner.invoke(cli, ["keys", "list"]).stdout)
    assert [k["name"] for k in listed] == ["gateway-west"] and "token" not in listed[0]
    rotated = runner.invoke(cli, ["keys", "rotate", key["prefix"], "--overlap-hours", "0"])
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)
    assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(key["token"])).status_code == 401
    assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(new["token"])).status_code == 200
    assert runner.invoke(cli, ["keys", "revoke", new["prefix"]]).exit_code == 0
    assert gw.post("/api/v1/scada/data", json=sample(), headers=bearer(new["token"])).status_code == 401
    audit = gw.get("/api/v1/audit", params={"action": "cli keys"}, headers=tokens.header("admin")).json()
    assert [(e["action"], e["target"]) for e in reversed(audit["items"])] == [
        ("cli keys create", key["prefix"]),
        ("cli keys rotate", key["prefix"]),
        ("cli keys revoke", new["prefix"]),
    ]
    assert all(e["subject"].startswith("cli:") and e["client"] == "cli" for e in audit["items"])
    unknown = runner.invoke(cli, ["keys", "revoke", "nosuch"])
    assert unknown.exit_code == 1 and "no API key with prefix 'nosuch'" in unknown.output
    bad = runner.invoke(cli, ["keys", "create", "x", "--scope", "admin"])
    assert bad.exit_code == 2 and "unknown key scope" in bad.output
