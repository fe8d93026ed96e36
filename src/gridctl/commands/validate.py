"""gridctl validate: render every overlay and component combination, then check them offline: schemas
(built-in and CRDs), cross-checks against a running GridOS, Rego policies and checkov."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from gridctl import tooling
from gridctl.manifests import STEPS

EXIT_FINDINGS, EXIT_USAGE = 1, 2


def _fail(message: str) -> typer.Exit:
    print(f"gridctl validate: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)


def validate_command(
    root: Annotated[Path, typer.Option(help="repository root (holds deploy/)")] = Path("."),
    target: Annotated[
        list[str] | None,
        typer.Option(
            "--target", "-t", help="only this target (e.g. deploy/k8s/overlays/prod or prod); repeatable"
        ),
    ] = None,
    skip: Annotated[
        list[str] | None, typer.Option(help=f"skip a step: {', '.join(STEPS)}; repeatable")
    ] = None,
    kubernetes_version: Annotated[
        str, typer.Option(help="Kubernetes version of the built-in schemas")
    ] = "1.32.0",
    gridos_url: Annotated[
        str | None,
        typer.Option(help="a running GridOS to check metrics and probes against (default: start one)"),
    ] = None,
    gridos_command: Annotated[
        str | None, typer.Option(help="command that serves GridOS (default: python -m gridos serve)")
    ] = None,
    repository_url: Annotated[
        str | None,
        typer.Option(
            help="repoURL of this repository in Argo CD (default: the bootstrap root Application's)"
        ),
    ] = None,
    argocd_values: Annotated[
        Path | None,
        typer.Option(
            help="Argo CD chart values, relative to --root (default: deploy/argocd/bootstrap/values-argocd.yaml)"
        ),
    ] = None,
    rollouts_values: Annotated[
        Path | None,
        typer.Option(
            help="Argo Rollouts chart values, relative to --root (default: deploy/argocd/values/argo-rollouts.yaml)"
        ),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """Validate the delivery manifests offline. Prints one line per finding: the file, the object (Kind/name),
    the target in brackets, the check and the message. Exit 0 when clean, 1 with findings, 2 when a tool or
    GridOS could not run."""
    unknown = sorted(set(skip or []) - set(STEPS))
    if unknown:
        raise _fail(f"--skip {unknown[0]!r}: expected one of {', '.join(STEPS)}")
    if output not in ("text", "json"):
        raise _fail(f"--output {output!r}: expected text or json")
    root = root.resolve()
    if not (root / "deploy").is_dir():
        raise _fail(f"{root}: no deploy/ directory (pass --root)")
    tooling.require("validate", "yaml", "jsonschema", "kubernetes_validate", "regopy")
    from gridctl.manifests.policies import PolicyError
    from gridctl.manifests.reference import ReferenceError_
    from gridctl.manifests.render import RenderError
    from gridctl.manifests.scanners import ScannerError
    from gridctl.manifests.validate import ValidationOptions, validate

    options = ValidationOptions(
        root=root,
        kubernetes_version=kubernetes_version,
        gridos_url=gridos_url,
        gridos_command=shlex.split(gridos_command) if gridos_command else None,
        skip=frozenset(skip or []),
        targets=tuple(target or []),
        repository_url=repository_url,
        argocd_values=argocd_values,
        rollouts_values=rollouts_values,
    )
    try:
        report = validate(options)
    except (RenderError, ReferenceError_, ScannerError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    if not report.targets:
        raise _fail(
            "no targets found (deploy/k8s/overlays, deploy/k8s/tests, deploy/k8s/platform, deploy/argocd)"
        )
    if output == "json":
        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "targets": report.targets,
                    "objects": report.objects,
                    "steps": report.steps,
                    "metricsFrom": report.metrics_source,
                    "findings": [f.as_dict() for f in report.findings],
                },
                indent=2,
            )
        )
    else:
        for finding in report.findings:
            print(finding)
        summary = (
            f"{len(report.targets)} targets, {report.objects} objects, steps {', '.join(report.steps)}: "
            f"{len(report.findings)} findings"
        )
        print(summary, file=sys.stderr)
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
    app.command("validate")(validate_command)
