"""gridctl infra: offline checks of the Terraform tree (parse, structure, docs, secrets) and the module
README generator. What needs a terraform binary or Azure runs in .github/workflows/infra-test.yml."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from gridctl import tooling
from gridctl.infra import CHECKS

DEFAULT_ROOT = Path("infra/terraform")
DEFAULT_WORKFLOW = Path(".github/workflows/infra-test.yml")

infra_app = typer.Typer(
    name="infra",
    help="Terraform tree: offline checks and module READMEs.",
    no_args_is_help=True,
)


def _fail(message: str) -> typer.Exit:
    print(f"gridctl infra: {message}", file=sys.stderr)
    return typer.Exit(2)


@infra_app.command("check")
def check(
    root: Annotated[Path, typer.Option(help="Terraform tree with modules/ and environments/")] = DEFAULT_ROOT,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help=f"run only these checks ({', '.join(CHECKS)}); repeatable"),
    ] = None,
    workflow: Annotated[
        Path | None,
        typer.Option(
            help="workflow that must set TF_VAR_ for required variables missing from terraform.tfvars"
        ),
    ] = DEFAULT_WORKFLOW,
) -> None:
    """Parse every .tf/.tfvars file and run the structural, docs and no-secrets checks. Prints one
    `file:line: [check] message` per finding and exits 1 if there is any."""
    selected = tuple(only) if only else CHECKS
    unknown = [c for c in selected if c not in CHECKS]
    if unknown:
        raise _fail(f"--only {unknown[0]!r}: expected one of {', '.join(CHECKS)}")
    if not root.is_dir():
        raise _fail(f"{root}: not a directory")
    tooling.require("infra check", "hcl2")
    from gridctl.infra import load, run_checks

    findings = run_checks(root, selected, workflow)
    for finding in findings:
        print(finding.render(Path.cwd()), file=sys.stderr)
    if findings:
        print(f"gridctl infra check: {len(findings)} finding(s)", file=sys.stderr)
        raise typer.Exit(1)
    tree = load(root)
    print(
        f"gridctl infra check: {len(tree.modules)} modules, {len(tree.environments)} environments: "
        f"{', '.join(selected)} clean"
    )


@infra_app.command("docs")
def docs(
    root: Annotated[Path, typer.Option(help="Terraform tree with modules/ and environments/")] = DEFAULT_ROOT,
    write: Annotated[
        bool, typer.Option("--write", help="rewrite the Inputs/Outputs tables of every README")
    ] = False,
) -> None:
    """Check (default) or regenerate (--write) the module READMEs' Inputs and Outputs tables."""
    if not root.is_dir():
        raise _fail(f"{root}: not a directory")
    tooling.require("infra docs", "hcl2")
    from gridctl.infra import load, run_checks, write_readmes

    if write:
        for path in write_readmes(load(root)):
            print(f"wrote {path}")
        return
    findings = run_checks(root, ("docs",))
    for finding in findings:
        print(finding.render(Path.cwd()), file=sys.stderr)
    if findings:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
    app.add_typer(infra_app)
