"""Rules from a YAML file at start-up: created and audited once, idempotent on restart, errors are clear."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gridos.app import create_app
from gridos.config import Settings
from tests.conftest import Tokens

EXAMPLE = Path(__file__).parents[2] / "src/gridos/alarms/examples/rules.yaml"


def test_rules_file_loaded_once_and_audited(
    alarm_env: dict[str, str], make_settings: Any, tokens: Tokens
) -> None:
    settings: Settings = make_settings(alarm_env | {"GRIDOS_ALARMS_RULES_FILE": str(EXAMPLE)})
    for _ in range(2):  # a restart (or a second replica) loads the same file
        with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
            rules = client.get("/api/v1/alarm-rules").json()
            audit = client.get("/api/v1/alarm-rules/audit").json()["items"]
    assert len(rules) == 3 and {r["source"] for r in rules} == {"yaml"}
    assert [(a["action"], a["actor"]) for a in audit] == [("create", "file:rules.yaml")] * 3
    breaker = next(r for r in rules if r["measurement"] == "breaker_closed")
    assert breaker["latching"] is True and breaker["limits"]["l"]["value"] == 0.5


def test_invalid_rules_file_stops_start_up_with_a_clear_error(
    alarm_env: dict[str, str], make_settings: Any, tmp_path: Path
) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        "rules:\n  - device_id: a\n    measurement: voltage\n    limits: {h: {value: 1, priority: urgent}}\n"
    )
    with (
        pytest.raises(ValueError, match=r"rules\[0\]\.limits\.h\.priority"),
        TestClient(create_app(make_settings(alarm_env | {"GRIDOS_ALARMS_RULES_FILE": str(bad)}))),
    ):
        pass


def test_check_rules_cli(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "gridos.alarms", "check-rules", str(EXAMPLE)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "3 rule(s) OK" in ok.stdout
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "rules:\n  - {device_id: a, measurement: humidity, limits: {h: {value: 1, priority: low}}}\n"
    )
    failed = subprocess.run(
        [sys.executable, "-m", "gridos.alarms", "check-rules", str(bad)], capture_output=True, text=True
    )
    assert failed.returncode == 1
    assert failed.stderr.strip() == f"error: {bad}: rules[0].measurement: unknown measurement 'humidity'"


def test_serve_refuses_a_bad_rules_file_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("rules: {}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")}
    env |= {"GRIDOS_ALARMS_RULES_FILE": str(bad), "GRIDOS_DATABASE_URL": f"sqlite:///{tmp_path / 'g.db'}"}
    r = subprocess.run(
        [sys.executable, "-m", "gridos", "serve"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2
    assert r.stderr.strip() == f"gridos: invalid configuration: {bad}: expected a mapping with a 'rules' list"
