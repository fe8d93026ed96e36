"""The `gridos` command: serve, migrate, demo, config, version.

Start-up order (serve and demo): configuration (and, for serve, the app built from it, which validates
every feature setting but starts nothing), then the listening socket, then the lock on the embedded
database, and only then the server, which migrates and starts the connectors and the demo's simulator.
A GridOS that cannot take its port or its database exits (code 3) before it has written anything.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from gridos import __version__
from gridos.config import Settings
from gridos.identity.cli import keys_app

app = typer.Typer(
    name="gridos",
    help="GridOS SCADA telemetry service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
log = logging.getLogger("gridos.cli")
app.add_typer(keys_app)  # gridos keys create|list|rotate|revoke (gridos.identity.cli)
EXIT_CONFIG = 2
EXIT_IN_USE = 3  # the port or the embedded database is held by another process


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"gridos {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="print the version and exit"),
    ] = False,
) -> None:
    """GridOS SCADA telemetry service. Every setting is a GRIDOS_* environment variable (`gridos config`)."""


def _settings(**overrides: object) -> Settings:
    """The one Settings of this command: the environment (every section), then the command's options."""
    try:
        settings = Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
        settings.token_roles  # noqa: B018 - validate tokens now
        return settings
    except (ValidationError, ValueError) as exc:
        typer.echo(f"gridos: invalid configuration: {_one_line(exc)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _one_line(exc: Exception) -> str:
    from gridos.config import invalid_setting

    return invalid_setting(exc) if isinstance(exc, ValidationError) else str(exc)


def _warn_at_start(settings: Settings) -> None:
    from gridos.config import unknown_env_warnings

    for warning in unknown_env_warnings():
        log.warning(warning)
    if not settings.token_roles:
        log.warning(
            "no API tokens configured (GRIDOS_API_TOKENS is empty): every /api/v1 request will be "
            "answered 401; set role:token pairs, e.g. GRIDOS_API_TOKENS=admin:<secret>"
        )


def _replace(settings: Settings, **changes: Any) -> Settings:
    try:
        return settings.replace(**changes)
    except ValidationError as exc:
        typer.echo(f"gridos: invalid configuration: {_one_line(exc)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _claim(settings: Settings, command: str) -> tuple[socket.socket, Any]:
    """The port, then the embedded database: both exclusively this process's, or exit 3."""
    from gridos.db.lock import DatabaseInUse, EmbeddedDatabaseLock
    from gridos.serving import BindError, bind_socket

    try:
        sock = bind_socket(settings.host, settings.port)
    except (BindError, OSError) as exc:
        typer.echo(f"gridos {command}: {exc.strerror or exc}", err=True)
        raise typer.Exit(EXIT_IN_USE) from None
    lock = None
    path = settings.sqlite_path
    if path is not None:
        try:
            lock = EmbeddedDatabaseLock(path).acquire()
        except DatabaseInUse as exc:
            sock.close()
            typer.echo(f"gridos {command}: {exc}", err=True)
            raise typer.Exit(EXIT_IN_USE) from None
    return sock, lock


def _build(settings: Settings) -> Any:
    """The app, with every feature setting (alarms, connectors, register maps) validated; nothing is
    started yet (connectors start with the server, after the port is bound)."""
    from gridos.app import create_app

    try:
        return create_app(settings)
    except ValueError as exc:
        # One line rather than a traceback from inside a worker.
        typer.echo(f"gridos: invalid configuration: {_one_line(exc)}", err=True)
        raise typer.Exit(EXIT_CONFIG) from None


def _run(
    settings: Settings,
    application: Any,
    sock: socket.socket,
    on_started: Callable[[Any], Awaitable[None]] | None = None,
    first_hook: Callable[[Any], Awaitable[None]] | None = None,
) -> None:
    import uvicorn

    from gridos.serving import GuardedHttpProtocol

    GuardedHttpProtocol.configure(settings)
    log.info(
        "starting GridOS",
        extra={
            "version": __version__,
            "listen": f"{settings.host}:{settings.port}",
            "database": settings.masked()["database_url"],
            "data_dir": str(settings.data_dir.resolve()),
        },
    )
    common: dict[str, Any] = {
        "log_config": None,
        "access_log": False,
        "proxy_headers": True,
        "http": GuardedHttpProtocol,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_seconds),
    }
    if settings.workers > 1 and on_started is None:
        from uvicorn.supervisors import Multiprocess

        application.state.services.engine.dispose()
        # Each worker process builds its own app from the same GRIDOS_* environment (the CLI's options
        # were written into it) and serves the socket bound here.
        # A worker answers the supervisor's health pings only once its app is built and started (imports,
        # migrations): uvicorn's 5 s default kills and restarts workers for ever on a busy machine.
        config = uvicorn.Config(
            "gridos.app:create_app",
            factory=True,
            workers=settings.workers,
            timeout_worker_healthcheck=60,
            **common,
        )
        Multiprocess(config, sockets=[sock]).run()
        return
    hooks = application.state.services.startup_hooks
    if first_hook is not None:
        hooks.insert(0, first_hook)
    if on_started is not None:
        hooks.append(on_started)
    uvicorn.Server(uvicorn.Config(application, **common)).run(sockets=[sock])


def _configure_logging(settings: Settings) -> None:
    from gridos.observability.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json, settings.access_log)


HostOpt = Annotated[
    str | None, typer.Option("--host", help="listen address (default: GRIDOS_HOST, else 127.0.0.1)")
]
PortOpt = Annotated[
    int | None, typer.Option("--port", min=1, max=65535, help="HTTP port (default: GRIDOS_PORT, else 8000)")
]


@app.command()
def serve(
    host: HostOpt = None,
    port: PortOpt = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, max=64, help="worker processes (default: GRIDOS_WORKERS, else 1)"),
    ] = None,
) -> None:
    """Serve the API (settings from GRIDOS_* environment variables; options override them)."""
    settings = _settings(host=host, port=port, workers=workers)
    # uvicorn's worker processes read the environment, not these options.
    os.environ.update(
        {
            "GRIDOS_HOST": settings.host,
            "GRIDOS_PORT": str(settings.port),
            "GRIDOS_WORKERS": str(settings.workers),
        }
    )
    _configure_logging(settings)
    application = _build(settings)
    _warn_at_start(settings)
    sock, lock = _claim(settings, "serve")
    try:
        _run(settings, application, sock)
    finally:
        if lock is not None:
            lock.release()


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
    port: PortOpt = None,
    host: HostOpt = None,
    interval: Annotated[float, typer.Option(min=0.05, help="seconds between simulated readings")] = 2.0,
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
    from gridos.simulator.fleet import FleetSimulator, register_in_process, run_in_background
    from gridos.simulator.mqtt import parse_address
    from gridos.simulator.protocols import prepare

    if mqtt_broker:
        try:
            parse_address(mqtt_broker)
        except ValueError as exc:
            typer.echo(f"gridos demo: {exc}", err=True)
            raise typer.Exit(EXIT_CONFIG) from None
    admin_token = secrets.token_urlsafe(24)
    ingest_token = secrets.token_urlsafe(24)
    settings = _settings(host=host, port=port)
    existing = settings.api_tokens.get_secret_value()
    tokens = f"admin:{admin_token},ingest:{ingest_token}" + (f",{existing}" if existing else "")
    settings = _replace(settings, api_tokens=tokens)
    _configure_logging(settings)
    sock, lock = _claim(settings, "demo")
    try:
        try:
            # The Modbus register map is written into the data directory (replaced on every run).
            outputs = prepare(
                mqtt_broker,
                modbus_port if modbus else None,
                interval,
                settings.data_dir,
                iec104_port=iec104_port if iec104 else None,
            )
        except (ValueError, OSError) as exc:
            typer.echo(f"gridos demo: {exc}", err=True)
            raise typer.Exit(EXIT_CONFIG) from None
        # The simulated protocols switch their connectors on: sections of the same settings object.
        settings = _replace(settings, **outputs.sections)
        application = _build(settings)
        _warn_at_start(settings)
        url = f"http://{settings.host}:{settings.port}"
        simulator = FleetSimulator(interval=interval)

        async def register_fleet(application: Any) -> None:
            # Before the connectors start (this hook runs first): a Modbus poll of a device that is not
            # registered yet would log "unknown device" for every device, one of empty registers store 0.
            register_in_process(application.state.services.registry, simulator.fleet, interval)
            outputs.prime(simulator.tick())

        async def start_simulator(application: Any) -> None:
            run_in_background(url, ingest_token, admin_token, interval, outputs, simulator=simulator)

        notes = "".join(f"  {note}\n" for note in outputs.notes)
        sys.stderr.write(
            f"\nGridOS {__version__} demo on {url}\n"
            f"  admin token: {admin_token}\n"
            f"  try: curl -H 'Authorization: Bearer {admin_token}' {url}/api/v1/scada/status\n"
            f"  operator view: {url}/#token={admin_token}\n"
            f"  API docs: {url}/docs\n"
            f"  data: {settings.masked()['database_url']}\n{notes}\n"
        )
        try:
            _run(settings, application, sock, start_simulator, first_hook=register_fleet)
        finally:
            outputs.close()
    finally:
        if lock is not None:
            lock.release()


@app.command()
def config() -> None:
    """Print the effective configuration of every section (core, identity, connectors, alarms, archive),
    secrets masked."""
    from gridos.config import unknown_env_warnings

    settings = _settings()
    for warning in unknown_env_warnings():
        typer.echo(f"gridos config: warning: {warning}", err=True)
    typer.echo(json.dumps(settings.masked(), indent=2, default=str))


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


# Long-term history (cold tier, export, backup and restore): gridos.archive.cli.
from gridos.archive.cli import register as _register_archive  # noqa: E402

_register_archive(app)
