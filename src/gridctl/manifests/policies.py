"""Rego policies of deploy/policies, evaluated with regopy (no OPA binary needed). Every package under
`gridos.policies` is a policy: its `deny` set, evaluated with input {"object": <manifest>, "environment": env},
must be empty. `gridos.admission.*` packages are admission-webhook policies: unit-tested, not run here."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import regopy

from gridctl.manifests.findings import Finding, ManifestObject

_PACKAGE = re.compile(r"^package\s+([\w.]+)", re.MULTILINE)
POLICY_PREFIX = "gridos.policies."


class PolicyError(Exception):
    pass


def policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*.rego") if "tests" not in p.relative_to(directory).parts)


def packages(directory: Path) -> dict[str, Path]:
    found = {}
    for path in policy_files(directory):
        m = _PACKAGE.search(path.read_text())
        if m:
            found[m.group(1)] = path
    return found


class PolicySet:
    """All modules of a policy directory loaded into one interpreter."""

    def __init__(self, directory: Path, data: dict[str, Any] | None = None) -> None:
        self.directory = directory
        self.interpreter = regopy.Interpreter()
        for path in policy_files(directory):
            self.interpreter.add_module(str(path.relative_to(directory)), path.read_text())
        if data is not None:
            self.interpreter.add_data_json(json.dumps(data))
        self.packages = packages(directory)

    def deny(self, package: str, document: dict[str, Any]) -> list[str]:
        """The deny messages of `package` for this input document."""
        self.interpreter.set_input_term(json.dumps(document))
        out = self.interpreter.query(f"x := data.{package}.deny")
        if not out.ok():
            # str() of a failed output is not safe in regopy; name the package instead.
            raise PolicyError(
                f"evaluating data.{package}.deny failed (syntax or runtime error in the policy)"
            )
        result = json.loads(str(out)) if str(out) != "undefined" else {}
        value = (result.get("bindings") or {}).get("x") or [] if isinstance(result, dict) else []
        return sorted(str(v) for v in value)


def evaluate(directory: Path, targets: Iterable[list[ManifestObject]]) -> list[Finding]:
    if not directory.is_dir():
        return []
    policy_set = PolicySet(directory)
    names = sorted(p for p in policy_set.packages if p.startswith(POLICY_PREFIX))
    findings: list[Finding] = []
    for objects in targets:
        for obj in objects:
            env = obj.labels.get("gridos.io/environment") or obj.environment
            for package in names:
                for message in policy_set.deny(package, {"object": obj.doc, "environment": env}):
                    findings.append(Finding.of(f"policy {package.removeprefix(POLICY_PREFIX)}", obj, message))
    return findings
