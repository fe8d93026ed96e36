"""Rego policies of deploy/policies, each with passing and failing fixtures (deploy/policies/tests), evaluated
with regopy exactly as `gridctl validate` evaluates them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from gridctl.manifests.policies import PolicySet, packages

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "deploy" / "policies"
FIXTURES = sorted((POLICIES / "tests").glob("*.yaml"))


def load(path: Path) -> dict[str, Any]:
    fixture: dict[str, Any] = yaml.safe_load(path.read_text())
    return fixture


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_fixture(path: Path) -> None:
    fixture = load(path)
    messages = PolicySet(POLICIES, fixture.get("data")).deny(fixture["package"], fixture["input"])
    if "expect" in fixture:
        assert any(fixture["expect"] in m for m in messages), messages
    else:
        assert messages == []


def test_every_policy_has_passing_and_failing_fixtures() -> None:
    cases: dict[str, set[str]] = {}
    for path in FIXTURES:
        fixture = load(path)
        cases.setdefault(fixture["package"], set()).add("fail" if "expect" in fixture else "pass")
    policies = {p for p in packages(POLICIES) if p != "gridos.lib"}
    assert policies == set(cases), "policies without fixtures, or fixtures of unknown policies"
    assert all(kinds == {"pass", "fail"} for kinds in cases.values()), cases
