"""Offline checks of the Terraform tree (infra/terraform): parse, structure, docs, secrets."""

from __future__ import annotations

from pathlib import Path

from gridctl.infra.docs import check_docs, write_readmes
from gridctl.infra.secrets import check_secrets
from gridctl.infra.structure import check_pipeline_variables, check_structure
from gridctl.infra.tree import Finding, TerraformTree, load

CHECKS = ("structure", "docs", "secrets")

__all__ = ["CHECKS", "Finding", "TerraformTree", "load", "run_checks", "write_readmes"]


def run_checks(root: Path, checks: tuple[str, ...] = CHECKS, workflow: Path | None = None) -> list[Finding]:
    """Every finding of the selected checks; parse errors are always reported."""
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
