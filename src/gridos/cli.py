"""The `gridos` command: serve, migrate, demo, config."""

from __future__ import annotations

import json
import logging
import secrets
import sys
from typing import Annotated

import typer
from pydantic import ValidationError

from gridos import __version__
from gridos.config import Settings

app = typer.Typer(
    name="gridos",
    help="GridOS SCADA telemetry service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("gridos.cli")


def _settings(**overrides: object) -> Settings:
    try:
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings.token_roles  # noqa: B018 - validate tokens now
        return settings
    except (ValidationError, ValueError) as exc:
        typer.echo(f"gridos: invalid configuration: {_one_line(exc)}", err=True)
        raise typer.Exit(2) from None


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        e = exc.errors()[0]
        return f"GRIDOS_{str(e['loc'][0]).upper()}: {e['msg']}"
    return str(exc)


def _run(settings: Settings, on_started: object = None) -> None:
    import uvicorn

    from gridos.app import create_app
    from gridos.observability.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)
    try:
        # Feature settings (alarms, connectors, register maps) are validated while the app is built: fail
        # here with one line rather than inside a worker with a traceback.
        application = create_app(settings)
    except ValueError as exc:
        typer.echo(f"gridos: invalid configuration: {_one_line(exc)}", err=True)
        raise typer.Exit(2) from None
    if settings.workers > 1 and on_started is None:
        application.state.engine.dispose()
        # Each worker process builds its own app from the same GRIDOS_* environment.
        uvicorn.run(
            "gridos.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_config=None,
            access_log=False,
            proxy_headers=True,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        )
        return
    if on_started is not None:
        application.state.startup_hooks.append(on_started)
    config = uvicorn.Config(
        application,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )
    uvicorn.Server(config).run()


@app.command()
def serve() -> None:
    """Serve the API (settings from GRIDOS_* environment variables)."""
    _run(_settings())


@app.command()
def migrate() -> None:
    """Apply database migrations up to the head revision. Idempotent."""
    from gridos.db.engine import make_engine
    from gridos.db.migrate import upgrade

    settings = _settings()
    engine = make_engine(settings)
    try:
        before, after = upgrade(engine)
    except Exception as exc:
        typer.echo(f"gridos migrate: failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    state = "already current" if before == after else f"upgraded from {before or 'empty'}"
    typer.echo(f"schema at revision {after} ({state})")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    interval: Annotated[float, typer.Option(help="seconds between simulated readings")] = 2.0,
    mqtt_broker: Annotated[
        str | None,
        typer.Option(help="host:port of an MQTT broker: the fleet publishes there, GridOS subscribes"),
    ] = None,
    modbus: Annotated[
        bool, typer.Option(help="serve site 'east' as Modbus TCP devices that GridOS polls")
    ] = False,
    modbus_port: Annotated[int, typer.Option(help="Modbus TCP port of the simulated devices")] = 5020,
    iec104: Annotated[
        bool, typer.Option(help="serve site 'south' as an IEC 60870-5-104 RTU that GridOS connects to")
    ] = False,
    iec104_port: Annotated[int, typer.Option(help="IEC 104 port of the simulated RTU")] = 2404,
) -> None:
    """Serve GridOS with a simulated fleet of 3 substations (~60 devices) streaming live data."""
    import os

    from gridos.simulator.fleet import run_in_background
    from gridos.simulator.protocols import prepare

    try:
        outputs = prepare(
            mqtt_broker,
            modbus_port if modbus else None,
            interval,
            iec104_port=iec104_port if iec104 else None,
        )
    except (ValueError, OSError) as exc:
        typer.echo(f"gridos demo: {exc}", err=True)
        raise typer.Exit(2) from None
    os.environ.update(outputs.env)  # the connectors read GRIDOS_MQTT_* / GRIDOS_MODBUS_* like `serve` does
    admin_token = secrets.token_urlsafe(24)
    ingest_token = secrets.token_urlsafe(24)
    base = Settings()
    existing = base.api_tokens.get_secret_value()
    tokens = f"admin:{admin_token},ingest:{ingest_token}" + (f",{existing}" if existing else "")
    settings = _settings(port=port, api_tokens=tokens)
    url = f"http://{settings.host}:{settings.port}"

    async def start_simulator(application: object) -> None:
        run_in_background(url, ingest_token, admin_token, interval, outputs)

    notes = "".join(f"  {note}\n" for note in outputs.notes)
    sys.stderr.write(
        f"\nGridOS {__version__} demo on {url}\n"
        f"  admin token: {admin_token}\n"
        f"  try: curl -H 'Authorization: Bearer {admin_token}' {url}/api/v1/scada/status\n"
        f"  operator view: {url}/#token={admin_token}\n"
        f"  API docs: {url}/docs\n{notes}\n"
    )
    try:
        _run(settings, start_simulator)
    finally:
        outputs.close()


@app.command()
def config() -> None:
    """Print the effective configuration, secrets masked."""
    settings = _settings()
    typer.echo(json.dumps(settings.masked(), indent=2, default=str))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)
