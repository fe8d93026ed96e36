"""The role matrix of docs/identity.md, proven against a running GridOS: every operation of the OpenAPI
document x every role (static token and, for people, a real OIDC access token), anonymous, and each API key
scope gets exactly what the matrix says: allowed (past authorization: 2xx, or 404/409/422 for the dummy
inputs used here), 403, or 401. The OpenAPI document itself must declare what the matrix relies on."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.oidc import OidcProvider
from tests.support.servers import start_gridos

DOC = Path(__file__).resolve().parents[2] / "docs" / "identity.md"
ROLES = ("viewer", "operator", "engineer", "admin", "ingest")
PEOPLE = {"viewer": "vic", "operator": "ada", "engineer": "eve", "admin": "root"}  # accounts at the provider
PATH_VALUES = {"alarm_id": "1", "rule_id": "1", "device_id": "north/no-such-device", "prefix": "nosuch"}


def documented_matrix() -> tuple[list[str], dict[str, tuple[str, str, dict[str, bool]]]]:
    """operationId -> (method, path, {column: allowed}) from the table under '## Role matrix'."""
    text = DOC.read_text(encoding="utf-8").split("## Role matrix", 1)[1]
    rows = [line for line in text.splitlines() if line.startswith("|")]
    columns = [c.strip() for c in rows[0].strip("|").split("|")][2:]
    matrix: dict[str, tuple[str, str, dict[str, bool]]] = {}
    for row in rows[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        op_id, (method, path) = cells[0].strip("`"), cells[1].strip("`").split(" ", 1)
        matrix[op_id] = (method, path, {c: v == "✓" for c, v in zip(columns, cells[2:], strict=True)})
    return columns, matrix


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, oidc: OidcProvider) -> Any:
    tokens = {role: secrets.token_urlsafe(16) for role in ROLES}
    env = oidc.env() | {"GRIDOS_API_TOKENS": ",".join(f"{r}:{t}" for r, t in tokens.items())}
    with start_gridos(tmp_path_factory.mktemp("matrix"), env) as gridos:
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        keys = {}
        for scope in ("read", "ingest"):
            r = httpx.post(
                f"{gridos.url}/api/v1/keys",
                json={"name": f"matrix-{scope}", "scopes": [scope]},
                headers=admin,
            )
            r.raise_for_status()
            keys[scope] = r.json()["token"]
        gridos.matrix_tokens = tokens  # type: ignore[attr-defined]
        gridos.matrix_keys = keys  # type: ignore[attr-defined]
        yield gridos


def credentials(server: Any, oidc: OidcProvider) -> list[tuple[str, str, dict[str, str]]]:
    """(matrix column, label, headers) for every way of calling."""
    out: list[tuple[str, str, dict[str, str]]] = [("anonymous", "anonymous", {})]
    for role, token in server.matrix_tokens.items():
        out.append((role, f"static token {role}", {"Authorization": f"Bearer {token}"}))
    for role, account in PEOPLE.items():
        jwt = oidc.access_token(account)["access_token"]
        out.append((role, f"OIDC bearer {account}", {"Authorization": f"Bearer {jwt}"}))
    for scope, token in server.matrix_keys.items():
        out.append((f"key: {scope}", f"API key {scope}", {"Authorization": f"Bearer {token}"}))
    return out


def call(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> int:
    url = re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)
    body = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
    # Streamed, so a Server-Sent Events endpoint answers with its status line and is then closed.
    with client.stream(method, url, headers=headers, **body) as response:  # type: ignore[arg-type]
        return response.status_code


def test_openapi_declares_security_errors_and_stable_operation_ids(server: Any) -> None:
    spec = httpx.get(f"{server.url}/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT or API key",
        "description": schemes["bearer"]["description"],
    }
    assert schemes["session"]["type"] == "apiKey" and schemes["session"]["in"] == "cookie"
    assert schemes["session"]["name"] == "gridos_session"
    _, matrix = documented_matrix()
    ops = {
        op["operationId"]: (m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items()
    }
    # Every operation is in the matrix under its (stable) id, and nothing in the matrix is gone.
    assert {k: v[:2] for k, v in ops.items()} == {k: v[:2] for k, v in matrix.items()}
    for op_id, (_, path, op) in ops.items():
        secured = "x-gridos-roles" in op
        expected = {"401", "403", "404", "409", "422", "429", "503"} if secured else {"404", "422", "503"}
        if op.get("x-error-format") == "influxdb":  # the line-protocol writes answer as InfluxDB does
            assert {"4XX", "5XX"} <= set(op["responses"]), op_id
            continue
        assert expected <= set(op["responses"]), op_id
        for code in expected:
            # Health probes answer 503 with the failing check as plain JSON (what load balancers read).
            media = "application/json" if code == "503" and "/health" in path else "application/problem+json"
            assert list(op["responses"][code]["content"]) == [media], (op_id, code)
        assert op["security"] == ([{"bearer": []}, {"session": []}] if secured else []), op_id


def test_every_operation_for_every_role_scope_and_anonymous(server: Any, oidc: OidcProvider) -> None:
    columns, matrix = documented_matrix()
    calls = credentials(server, oidc)
    assert {c for c, _, _ in calls} == set(columns)
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for op_id, (method, path, allowed) in matrix.items():
            for column, label, headers in calls:
                status = call(client, method, path, headers)
                if allowed[column]:
                    ok = status < 500 and status not in (401, 403, 429)
                    want = "allowed"
                else:
                    want = "401" if column == "anonymous" else "403"
                    ok = status == int(want)
                if not ok:
                    wrong.append(f"{op_id} {method} {path} as {label}: {status}, expected {want}")
    assert not wrong, "\n".join(wrong)
