"""`gridos keys ...`: named API keys for machines, from the command line (same store as /api/v1/keys)."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from gridos.errors import GridosError

keys_app = typer.Typer(
    name="keys",
    help="Named API keys for gateways, simulators and CI: create, list, rotate, revoke.",
    no_args_is_help=True,
)


@contextmanager
def _store() -> Iterator[Any]:
    from pydantic import ValidationError

    from gridos.config import Settings, invalid_setting
    from gridos.db.engine import make_engine
    from gridos.db.migrate import upgrade
    from gridos.identity.audit import AuditLog
    from gridos.identity.keys import KeyStore

    try:
        settings = Settings()
    except ValidationError as exc:
        typer.echo(f"gridos keys: invalid configuration: {invalid_setting(exc)}", err=True)
        raise typer.Exit(2) from None
    identity = settings.identity
    engine = make_engine(settings)
    try:
        if settings.migrate_on_start:  # the embedded SQLite database migrates itself, as `serve` does
            upgrade(engine)
        yield KeyStore(engine, identity.auth_key_cache_seconds), AuditLog(engine)
    except GridosError as exc:
        typer.echo(f"gridos keys: {exc.detail}", err=True)
        raise typer.Exit(1 if exc.status in (404, 409) else 2) from None
    except Exception as exc:  # a database that is down or not migrated: one line, not a traceback
        typer.echo(f"gridos keys: failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def _print(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _audit(audit: Any, action: str, target: str) -> None:
    # Key changes from the command line are writes like any other: on the record, with who ran them.
    audit.record(f"cli keys {action}", "ok", None, "cli", None, target=target, subject=_operator())


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="what uses the key, e.g. gateway-north-1")],
    scope: Annotated[list[str], typer.Option("--scope", help="ingest and/or read (repeat for both)")],
    expires_days: Annotated[float | None, typer.Option(help="expire after this many days")] = None,
) -> None:
    """Create a key. The token is printed once; only its hash is stored."""
    expires = datetime.now(UTC) + timedelta(days=expires_days) if expires_days else None
    with _store() as (store, audit):
        created = store.create(name, scope, _operator(), expires)
        _audit(audit, "create", created["prefix"])
        _print(created)


@keys_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="include revoked and expired keys")] = False,
) -> None:
    """List keys: prefix, name, scopes, state, expiry, last use. Never the tokens."""
    with _store() as (store, _):
        _print(store.list(include_inactive=all_))


@keys_app.command("rotate")
def rotate(
    prefix: Annotated[str, typer.Argument(help="the key's prefix (from `gridos keys list`)")],
    overlap_hours: Annotated[float, typer.Option(help="how long the old key keeps working")] = 24.0,
) -> None:
    """Issue a new key with the same name and scopes; the old one works for the overlap, then stops."""
    with _store() as (store, audit):
        rotated = store.rotate(prefix, overlap_hours * 3600, _operator())
        _audit(audit, "rotate", prefix)
        _print(rotated)


@keys_app.command("revoke")
def revoke(prefix: Annotated[str, typer.Argument(help="the key's prefix")]) -> None:
    """Revoke a key now (other replicas within GRIDOS_AUTH_KEY_CACHE_SECONDS)."""
    with _store() as (store, audit):
        revoked = store.revoke(prefix)
        _audit(audit, "revoke", prefix)
        _print(revoked)
