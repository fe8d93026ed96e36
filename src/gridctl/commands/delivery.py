"""gridctl commands: delivery (image set, deploy, promote, rollback, ledger, smoke, monitor, budget).

Every command prints one clear line on stderr and exits non-zero when it cannot do its job, and `--json`
prints a machine-readable result on stdout for the workflows. Exit codes: 0 done / healthy, 1 refused,
failed or unhealthy, 2 usage error, 3 not enough data to decide (budget without traffic).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from gridctl.analysis import TemplateError, parse_duration
from gridctl.delivery.budget import NoTraffic, error_budget
from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.image import (
    ENVIRONMENTS,
    IMAGE_NAME,
    ImageReference,
    check_environment,
    overlay_path,
    read_overlay_image,
    set_overlay_image,
)
from gridctl.delivery.ledger import PromotionLedger, ledger_path
from gridctl.delivery.notify import Deployment, notify_slack
from gridctl.delivery.probes import DEFAULT_DELAY, DEFAULT_TRIES, HealthMonitor, SmokeTest
from gridctl.delivery.promote import PROMOTION_SOURCE, ChangeResult, deploy, promote, rollback, verify

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NO_DATA = 3

Repo = Annotated[Path, typer.Option("--repo", help="the GitOps repository (any path inside it)")]
Json = Annotated[bool, typer.Option("--json", help="machine-readable result on stdout")]
Env = Annotated[str, typer.Option("--env", "-e", help="dev, staging or prod")]
Branch = Annotated[
    str | None, typer.Option("--branch", help="create this branch for the commit (default: per command)")
]
Commit = Annotated[
    bool, typer.Option("--commit/--no-commit", help="commit the change (default) or only edit")
]
ImageName = Annotated[str, typer.Option("--name", help="the kustomize images: entry to edit")]
Token = Annotated[
    str | None, typer.Option("--token", envvar="GRIDCTL_TOKEN", help="GridOS API token (env GRIDCTL_TOKEN)")
]


def _die(command: str, message: str, code: int = EXIT_FAILED) -> NoReturn:
    print(f"gridctl {command}: {message}", file=sys.stderr)
    raise typer.Exit(code)


def _emit(payload: dict[str, Any], as_json: bool, text: str) -> None:
    print(json.dumps(payload, indent=2) if as_json else text)


def _change(command: str, result: ChangeResult, as_json: bool) -> None:
    lines = [f"{result.action} {result.environment}: {result.image}"]
    if result.replaced_digest:
        lines.append(f"  replaces {result.replaced_digest}")
    if result.commit:
        lines.append(f"  committed {result.commit[:12]} on {result.branch}")
    lines.extend(f"  {note}" for note in result.notes)
    _emit(result.to_dict(), as_json, "\n".join(lines))


image_app = typer.Typer(help="Images of the environments' overlays.", no_args_is_help=True)
ledger_app = typer.Typer(help="The promotion ledger (deploy/promotions/<env>.yaml).", no_args_is_help=True)


@image_app.command("set")
def image_set(
    env: Env,
    image: Annotated[str, typer.Option("--image", help="<registry>/<repository>@sha256:<64 hex>")],
    repo: Repo = Path("."),
    name: ImageName = IMAGE_NAME,
    as_json: Json = False,
) -> None:
    """Point an overlay's kustomize images: entry at an image digest, keeping comments and formatting.
    Edits the file only (no ledger entry, no commit): `gridctl deploy` does all three."""
    try:
        ref = ImageReference.parse(image)
        path = overlay_path(repo.resolve(), env)
        changed = set_overlay_image(path, ref, name)
    except DeliveryError as exc:
        _die("image set", str(exc), EXIT_USAGE if "malformed" in str(exc) else EXIT_FAILED)
    payload = {"environment": env, "file": str(path), "image": str(ref), "changed": changed}
    _emit(payload, as_json, f"{path}: {name} -> {ref}" + ("" if changed else " (unchanged)"))


@ledger_app.command("show")
def ledger_show(
    env: Annotated[list[str] | None, typer.Option("--env", "-e", help="repeatable; default all")] = None,
    repo: Repo = Path("."),
    strict: Annotated[
        bool, typer.Option("--strict", help="exit 1 when an overlay disagrees with its non-empty ledger")
    ] = False,
    as_json: Json = False,
) -> None:
    """Which image runs where, from Git alone, and whether each overlay agrees with its ledger."""
    try:
        root = repo.resolve()
        report: dict[str, Any] = {}
        for e in env or list(ENVIRONMENTS):
            check_environment(e)
            path = ledger_path(root, e)
            overlay = overlay_path(root, e)
            current = PromotionLedger(path, e).current if path.exists() else None
            deployed = read_overlay_image(overlay) if overlay.exists() else None
            report[e] = {
                "current": current.to_dict() if current else None,
                "overlay_image": str(deployed) if deployed else None,
                "in_sync": (current.digest if current else None) == (deployed.digest if deployed else None),
            }
    except DeliveryError as exc:
        _die("ledger show", str(exc))
    lines = []
    for e, item in report.items():
        cur = item["current"]
        if cur is None:
            lines.append(f"{e:8} (no ledger entry)  overlay: {item['overlay_image'] or '-'}")
            continue
        state = (
            "verified " + cur["verified_at"] if cur["verified_at"] and not cur["failed_at"] else "unverified"
        )
        if cur["failed_at"]:
            state = "FAILED " + cur["failed_at"]
        drift = "" if item["in_sync"] else f"  DRIFT: overlay has {item['overlay_image']}"
        lines.append(f"{e:8} {cur['image']}  {cur['action']} {cur['deployed_at']}  {state}{drift}")
    _emit(report, as_json, "\n".join(lines))
    drifted = [e for e, item in report.items() if item["current"] is not None and not item["in_sync"]]
    if strict and drifted:
        _die("ledger show", f"overlay and ledger disagree for {', '.join(drifted)}")


@ledger_app.command("verify")
def ledger_verify(
    env: Env,
    check: Annotated[list[str], typer.Option("--check", help="a check that passed; repeatable")],
    digest: Annotated[
        str | None, typer.Option(help="the digest checked (default: what the env runs)")
    ] = None,
    repo: Repo = Path("."),
    branch: Branch = None,
    commit: Commit = True,
    as_json: Json = False,
) -> None:
    """Record that the image running in an environment passed its checks: only verified images promote."""
    try:
        result = verify(repo.resolve(), env, check, digest=digest, branch=branch, commit=commit)
    except DeliveryError as exc:
        _die("ledger verify", str(exc))
    _change("ledger verify", result, as_json)


def deploy_command(
    env: Env,
    image: Annotated[str, typer.Option("--image", help="<registry>/<repository>@sha256:<64 hex>")],
    source_commit: Annotated[
        str, typer.Option("--source-commit", help="the commit the image was built from")
    ],
    repo: Repo = Path("."),
    branch: Branch = None,
    commit: Commit = True,
    name: ImageName = IMAGE_NAME,
    as_json: Json = False,
) -> None:
    """Deploy a freshly built image: overlay + ledger entry, committed (on --branch if given)."""
    try:
        ref = ImageReference.parse(image)
        result = deploy(repo.resolve(), env, ref, source_commit, branch=branch, commit=commit, name=name)
    except DeliveryError as exc:
        _die("deploy", str(exc), EXIT_USAGE if "malformed" in str(exc) else EXIT_FAILED)
    _change("deploy", result, as_json)


def promote_command(
    target: Annotated[str, typer.Option("--to", help="staging or prod")],
    source: Annotated[
        str | None,
        typer.Option("--from", help="where the image was verified (default: the stage before --to)"),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(help="the digest to promote (default: what --from runs); must be verified there"),
    ] = None,
    repo: Repo = Path("."),
    branch: Branch = None,
    commit: Commit = True,
    name: ImageName = IMAGE_NAME,
    registry: Annotated[
        str | None,
        typer.Option(help="<registry>/<repository> for --to (default: the newName its overlay already has)"),
    ] = None,
    as_json: Json = False,
) -> None:
    """Copy the exact digest verified in --from to --to, on branch deploy/<to>-<digest> with one commit (the
    workflow opens the pull request). Refuses an image that was never verified in --from."""
    try:
        result = promote(
            repo.resolve(),
            source or PROMOTION_SOURCE.get(target, "dev"),
            target,
            digest=digest,
            branch=branch,
            commit=commit,
            name=name,
            registry=registry,
        )
    except DeliveryError as exc:
        _die("promote", str(exc))
    _change("promote", result, as_json)


def rollback_command(
    env: Env,
    repo: Repo = Path("."),
    branch: Branch = None,
    commit: Commit = True,
    name: ImageName = IMAGE_NAME,
    rollout: Annotated[
        str, typer.Option(help="the Argo Rollout, for the printed kubectl command")
    ] = "gridos",
    namespace: Annotated[
        str, typer.Option(help="its namespace (each environment is its own cluster)")
    ] = "gridos",
    as_json: Json = False,
) -> None:
    """Restore the previous verified image of an environment from the ledger as a Git commit, mark the
    replaced image failed, and print the equivalent `kubectl argo rollouts undo`."""
    try:
        result = rollback(
            repo.resolve(), env, branch=branch, commit=commit, name=name, rollout=rollout, namespace=namespace
        )
    except DeliveryError as exc:
        _die("rollback", str(exc))
    _change("rollback", result, as_json)


def _duration(command: str, text: str, option: str) -> float:
    try:
        return parse_duration(text, option)
    except TemplateError as exc:
        _die(command, str(exc), EXIT_USAGE)


def smoke_command(
    url: Annotated[str, typer.Option("--url", help="GridOS base URL")],
    token: Token = None,
    tries: Annotated[int, typer.Option(min=1, help="tries per check")] = DEFAULT_TRIES,
    delay: Annotated[str, typer.Option(help="wait between tries (Go duration)")] = f"{int(DEFAULT_DELAY)}s",
    backoff: Annotated[float, typer.Option(min=1.0, help="multiply the wait by this after each try")] = 1.0,
    timeout: Annotated[str, typer.Option(help="per request")] = "10s",
    device: Annotated[str, typer.Option(help="device used for the ingest read-back")] = "test-device",
    as_json: Json = False,
) -> None:
    """Post-deployment smoke tests (docs/delivery.md): /health, /health/db, /api/v1/scada/status, /metrics, and a sample ingested and
    read back; each retried (5 tries, 10 s apart by default). Exit 0 pass, 1 fail."""
    smoke = SmokeTest(
        url=url,
        token=token,
        tries=tries,
        delay=_duration("smoke", delay, "--delay"),
        backoff=backoff,
        timeout=_duration("smoke", timeout, "--timeout"),
        device_id=device,
    )
    report = smoke.run()
    lines = [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail} ({c.attempts} tries)" for c in report.checks]
    lines.append(f"smoke {'passed' if report.passed else 'FAILED'} against {url}")
    _emit(report.to_dict(), as_json, "\n".join(lines))
    if not report.passed:
        failed = report.checks[-1]
        _die("smoke", f"{failed.name} failed after {failed.attempts} tries: {failed.detail}")


def monitor_command(
    url: Annotated[str, typer.Option("--url", help="GridOS base URL")],
    token: Token = None,
    checks: Annotated[int, typer.Option(min=1, help="rounds of checks")] = 10,
    interval: Annotated[str, typer.Option(help="between rounds (Go duration)")] = "30s",
    max_consecutive_failures: Annotated[int, typer.Option(min=1, help="fail after this many in a row")] = 3,
    timeout: Annotated[str, typer.Option(help="per request")] = "5s",
    as_json: Json = False,
) -> None:
    """Post-deployment health monitoring (10 checks 30 s apart = 5 minutes): exit 0 healthy, 1 unhealthy."""
    monitor = HealthMonitor(
        url=url,
        token=token,
        checks=checks,
        interval=_duration("monitor", interval, "--interval"),
        max_consecutive_failures=max_consecutive_failures,
        timeout=_duration("monitor", timeout, "--timeout"),
    )
    report = monitor.run()
    text = f"monitor {'healthy' if report.healthy else 'UNHEALTHY'}: {report.reason}"
    _emit(report.to_dict(), as_json, text)
    if not report.healthy:
        _die("monitor", f"unhealthy: {report.reason}")


def budget_command(
    prometheus: Annotated[str, typer.Option("--prometheus", help="Prometheus base URL")],
    slo: Annotated[float, typer.Option(help="availability objective in percent")] = 99.9,
    window: Annotated[str, typer.Option(help="SLO window: 30d, 720h, 5m")] = "30d",
    namespace: Annotated[str | None, typer.Option(help="only this namespace label")] = None,
    selector: Annotated[str, typer.Option(help='extra label matchers, e.g. job="gridos"')] = "",
    min_remaining: Annotated[
        float | None, typer.Option(help="exit 1 when less than this share (0..1) of the budget is left")
    ] = None,
    as_json: Json = False,
) -> None:
    """SLO error budget remaining (99.9 % over 30 days = 43.2 minutes). Exit 3 when there was no traffic."""
    try:
        result = error_budget(prometheus, slo=slo, window=window, namespace=namespace, selector=selector)
    except NoTraffic as exc:
        _die("budget", str(exc), EXIT_NO_DATA)
    except DeliveryError as exc:
        _die("budget", str(exc))
    text = (
        f"error budget {result.budget_minutes:g} min per {window} at {slo:g}%: "
        f"{result.remaining_minutes:g} min left ({result.remaining_ratio:.1%}), "
        f"error ratio {result.error_ratio:.4%} over {result.requests:g} requests"
    )
    _emit(result.to_dict(), as_json, text)
    if min_remaining is not None and result.remaining_ratio < min_remaining:
        _die("budget", f"{result.remaining_ratio:.1%} of the error budget left, below {min_remaining:.1%}")


def notify_command(
    status: Annotated[str, typer.Option(help="success, failure or cancelled (a job status)")],
    environment: Annotated[str, typer.Option("--env", "-e", help="the environment deployed")],
    image: Annotated[str, typer.Option(help="the image reference deployed")] = "",
    commit: Annotated[str, typer.Option(help="the source commit")] = "",
    duration: Annotated[float, typer.Option(help="seconds the deployment took")] = 0.0,
    action: Annotated[str, typer.Option(help="deploy, promote, verify or rollback")] = "deploy",
    run_url: Annotated[str, typer.Option(help="link to the workflow run")] = "",
    webhook: Annotated[
        str | None,
        typer.Option(
            envvar="SLACK_WEBHOOK_URL", help="Slack incoming webhook (env SLACK_WEBHOOK_URL); unset: skip"
        ),
    ] = None,
) -> None:
    """Post a deployment notification to Slack; skipped cleanly (exit 0) when no webhook is configured."""
    if status not in ("success", "failure", "cancelled"):
        _die("notify", f"--status {status!r}: expected success, failure or cancelled", EXIT_USAGE)
    deployment = Deployment(status, environment, image, commit, duration, action, run_url)
    try:
        sent = notify_slack(webhook, deployment)
    except DeliveryError as exc:
        _die("notify", str(exc))
    print("notification sent to Slack" if sent else "no Slack webhook configured: notification skipped")


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
    app.add_typer(image_app, name="image")
    app.add_typer(ledger_app, name="ledger")
    app.command("deploy")(deploy_command)
    app.command("promote")(promote_command)
    app.command("rollback")(rollback_command)
    app.command("smoke")(smoke_command)
    app.command("monitor")(monitor_command)
    app.command("budget")(budget_command)
    app.command("notify")(notify_command)
