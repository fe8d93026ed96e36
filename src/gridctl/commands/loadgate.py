"""gridctl loadgate: the Locust scenario (ingest, status, history, alarm reads) against a running GridOS for a
fixed time, then pass/fail on throughput, p95 and error rate. Exit 0 passed, 1 a threshold missed, 2 the run
could not start. Run by .github/workflows/promote.yml before prod (against staging) and by preview.yml."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from gridctl.loadgate import Thresholds

EXIT_FAILED, EXIT_USAGE = 1, 2


def loadgate_command(
    url: Annotated[str, typer.Option(help="GridOS base URL")],
    users: Annotated[int, typer.Option(min=1, help="concurrent simulated clients")] = 50,
    duration: Annotated[float, typer.Option(min=1, help="seconds of load after all users started")] = 60,
    min_rps: Annotated[float, typer.Option(help="fail below this many requests/s")] = 1000,
    max_p95_ms: Annotated[float, typer.Option(help="fail above this p95 latency (ms, all requests)")] = 500,
    max_error_rate: Annotated[float, typer.Option(help="fail above this share of failed requests")] = 0.01,
    devices: Annotated[
        int, typer.Option(min=1, help="meters of site `loadgate` the scenario writes to")
    ] = 20,
    register: Annotated[
        bool, typer.Option(help="create the meters first (needs an admin token; previews, benchmarks)")
    ] = False,
    batch: Annotated[int, typer.Option(min=1, help="samples per ingest request")] = 10,
    report: Annotated[Path | None, typer.Option(help="also write the JSON report here")] = None,
) -> None:
    """Load GridOS with the mixed scenario and judge the run. The token comes from GRIDCTL_TOKEN."""
    token = os.environ.get("GRIDCTL_TOKEN")
    if not token:
        print("gridctl loadgate: GRIDCTL_TOKEN is not set", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE)
    from gridctl.loadgate.run import LoadGateError, register_devices, run
    from gridctl.loadgate.scenario import device_ids

    try:
        ids = register_devices(url, token, devices) if register else device_ids(devices)
    except LoadGateError as exc:
        print(f"gridctl loadgate: {exc}", file=sys.stderr)
        raise typer.Exit(EXIT_USAGE) from None
    thresholds = Thresholds(min_rps, max_p95_ms, max_error_rate)
    result = run(
        url, token, users=users, duration_s=duration, devices=ids, thresholds=thresholds, batch=batch
    )
    body = json.dumps({**result.as_dict(), "thresholds": thresholds.__dict__}, indent=2)
    print(body)
    if report:
        report.write_text(body + "\n")
    verdict = "passed" if result.passed else "FAILED: " + "; ".join(result.failed)
    print(
        f"gridctl loadgate: {result.rps:.1f} requests/s, p95 {result.p95_ms:.0f} ms, "
        f"errors {result.error_rate:.2%} with {users} users for {result.duration_s:g} s: {verdict}",
        file=sys.stderr,
    )
    if not result.passed:
        raise typer.Exit(EXIT_FAILED)


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
    app.command("loadgate")(loadgate_command)
