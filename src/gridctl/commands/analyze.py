"""gridctl analyze: run AnalysisTemplates against a Prometheus with Argo Rollouts semantics, before they can
trigger a rollback (argo-rollouts #1617)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from gridctl.analysis import (
    AnalysisRun,
    Measurement,
    MetricResult,
    Phase,
    PrometheusProvider,
    TemplateError,
    build_metrics,
    load_documents,
    resolve_args,
    select,
)
from gridctl.analysis.run import describe_value

# Distinct exit codes so that CI can tell "the canary is bad" from "the analysis could not decide".
EXIT_CODES = {Phase.successful: 0, Phase.failed: 1, Phase.inconclusive: 3, Phase.error: 4}
EXIT_USAGE = 2


def _fail(message: str) -> typer.Exit:
    print(f"gridctl analyze: {message}", file=sys.stderr)
    return typer.Exit(EXIT_USAGE)


def _parse_args(pairs: list[str]) -> dict[str, str]:
    args: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise _fail(f"--arg {pair!r}: expected name=value")
        args[name] = value
    return args


def analyze(
    template: Annotated[
        list[Path],
        typer.Option(
            "--template", "-t", help="YAML file with AnalysisTemplates (kustomize output works); repeatable"
        ),
    ],
    prometheus: Annotated[
        str | None,
        typer.Option(help="Prometheus base URL; replaces every prometheus provider address of the templates"),
    ] = None,
    arg: Annotated[
        list[str] | None, typer.Option("--arg", "-a", help="template argument name=value; repeatable")
    ] = None,
    name: Annotated[
        list[str] | None,
        typer.Option("--name", "-n", help="template to run (metadata.name); repeatable; default: all found"),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(help="end the run after this many seconds, as a Rollout ends background analysis"),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", help="text or json")] = "text",
) -> None:
    """Run AnalysisTemplates against Prometheus with Argo Rollouts semantics and exit with the run's phase:
    0 Successful, 1 Failed, 3 Inconclusive, 4 Error, 2 for a template or usage error."""
    if output not in ("text", "json"):
        raise _fail(f"--output {output!r}: expected text or json")
    try:
        spec = select(load_documents(template), name or [])
        metrics = build_metrics(spec, resolve_args(spec, _parse_args(arg or [])))
    except TemplateError as exc:
        raise _fail(str(exc)) from None
    endless = [m.name for m in metrics if m.effective_count is None and not m.dry_run]
    if endless and timeout is None:
        raise _fail(
            f"metric {endless[0]!r} has an interval and no count: it runs until stopped; pass --timeout"
        )

    def report(result: MetricResult, m: Measurement) -> None:
        if output == "text":
            detail = m.message or describe_value(m.value)
            dry = " (dryRun)" if result.metric.dry_run else ""
            print(
                f"{m.finished_at - run.started_at:7.1f}s  {result.metric.name}{dry}  {m.phase.value}  {detail}",
                flush=True,
            )

    run = AnalysisRun(metrics, PrometheusProvider(address_override=prometheus), on_measurement=report)
    phase = run.run(timeout=timeout)
    if output == "json":
        print(
            json.dumps(
                {
                    "phase": phase.value,
                    "message": run.message,
                    "templates": spec.names,
                    "durationSeconds": round(run.finished_at - run.started_at, 3),
                    "metricResults": [
                        {
                            "name": r.metric.name,
                            "phase": r.phase.value,
                            "dryRun": r.metric.dry_run,
                            "count": r.count,
                            "successful": r.successful,
                            "failed": r.failed,
                            "inconclusive": r.inconclusive,
                            "error": r.error,
                            "consecutiveError": r.consecutive_error,
                            "message": r.message,
                            "measurements": [
                                {
                                    "phase": m.phase.value,
                                    "atSeconds": round(m.finished_at - run.started_at, 3),
                                    "value": describe_value(m.value),
                                    "message": m.message,
                                }
                                for m in r.measurements
                            ],
                        }
                        for r in run.results
                    ],
                },
                indent=2,
            )
        )
    else:
        for r in run.results:
            dry = " (dryRun)" if r.metric.dry_run else ""
            print(f"metric {r.metric.name}{dry}: {r.phase.value} {r.message}".rstrip())
        print(f"AnalysisRun: {phase.value}{f' ({run.message})' if run.message else ''}")
    if phase is not Phase.successful:
        print(
            f"gridctl analyze: analysis {phase.value}: {run.message or 'see the metrics above'}",
            file=sys.stderr,
        )
    raise typer.Exit(EXIT_CODES.get(phase, 4))


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
    app.command("analyze")(analyze)
