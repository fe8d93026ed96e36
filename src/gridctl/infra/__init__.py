"""Offline checks of the Terraform tree (infra/terraform): parse, structure, docs, secrets.

The checks need python-hcl2 (gridctl's `tooling` extra), so this package imports its modules only when
one of them is used: `gridctl --help` and the delivery commands work in a runtime-only install.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gridctl.infra.docs import write_readmes
    from gridctl.infra.tree import Finding, TerraformTree, load

CHECKS = ("structure", "docs", "secrets")

__all__ = ["CHECKS", "Finding", "TerraformTree", "load", "run_checks", "write_readmes"]

_LAZY = {
    "Finding": "gridctl.infra.tree",
    "TerraformTree": "gridctl.infra.tree",
    "load": "gridctl.infra.tree",
    "write_readmes": "gridctl.infra.docs",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'gridctl.infra' has no attribute {name!r}")


def run_checks(root: Path, checks: tuple[str, ...] = CHECKS, workflow: Path | None = None) -> list[Finding]:
    """Every finding of the selected checks; parse errors are always reported."""
    from gridctl.infra.docs import check_docs
    from gridctl.infra.environments import check_pipeline_variables
    from gridctl.infra.secrets import check_secrets
    from gridctl.infra.structure import check_structure
    from gridctl.infra.tree import load

    tree = load(root)
    findings = list(tree.parse_errors)
    if "structure" in checks:
        findings += check_structure(tree)
        if workflow is not None:
            findings += check_pipeline_variables(tree, workflow)
    if "docs" in checks:
        findings += check_docs(tree)
    if "secrets" in checks:
        findings += check_secrets(root)
    return sorted(findings, key=lambda f: (str(f.path), f.line, f.check, f.message))
