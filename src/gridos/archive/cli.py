"""`gridos archive`, `gridos export`, `gridos backup`, `gridos restore` (registered on the main `gridos`
command by gridos.cli). Exit codes: 0 done, 1 failed (nothing deleted that was not verified), 2 bad
arguments or configuration; failures print one line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError

from gridos.config import Settings, invalid_setting

if TYPE_CHECKING:
    from sqlalchemy import Engine

T = TypeVar("T")


def _fail(command: str, message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"gridos {command}: {message}", err=True)
    return typer.Exit(code)


def _unexpected(command: str, exc: Exception) -> typer.Exit:
    """An error no step expects: its type and the first line of its message."""
    return _fail(command, f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _settings(command: str) -> Settings:
    """This command's one Settings (the archive section is `.archive`)."""
    try:
        return Settings()
    except ValidationError as exc:
        raise _fail(command, f"invalid configuration: {invalid_setting(exc)}", 2) from None


def _engine(command: str, settings: Settings) -> Engine:
    from gridos.db.engine import make_engine

    try:
        return make_engine(settings)
    except ValueError as exc:
        raise _fail(command, f"invalid configuration: {str(exc).splitlines()[0]}", 2) from None


def _instant(command: str, name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(command, f"{name} {raw!r} is not an ISO 8601 date or time", 2) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def archive(
    day: Annotated[str | None, typer.Option(help="archive only this UTC day (YYYY-MM-DD)")] = None,
    verify: Annotated[
        bool, typer.Option(help="re-read every catalogued file and check its checksum")
    ] = False,
) -> None:
    """Move closed days (older than GRIDOS_ARCHIVE_AFTER_DAYS) to the Parquet cold tier. Idempotent;
    safe to kill at any point and rerun."""
    import threading

    from gridos.archive.archiver import Archiver
    from gridos.archive.storage import ArchiveError, open_storage
    from gridos.observability.logging import configure_logging
    from gridos.telemetry.rollups import RollupJob

    core = _settings("archive")
    settings = core.archive
    configure_logging(core.log_level, core.log_json)  # each step of the protocol is logged (stderr)
    if settings.after_days >= core.retention_days:
        raise _fail(
            "archive",
            f"GRIDOS_ARCHIVE_AFTER_DAYS ({settings.after_days}) must be less than GRIDOS_RETENTION_DAYS "
            f"({core.retention_days})",
            2,
        )
    only_day = None
    if day:
        try:
            only_day = date.fromisoformat(day)
        except ValueError:
            raise _fail("archive", f"--day {day!r} is not YYYY-MM-DD", 2) from None
    engine = _engine("archive", core)
    try:
        storage = open_storage(settings)
        archiver = Archiver(
            engine,
            storage,
            settings,
            roll_up=functools.partial(RollupJob(core, engine, threading.Lock()).run, pause=False),
        )
        if verify:
            problems = archiver.verify()
            for p in problems:
                typer.echo(p, err=True)
            if problems:
                raise _fail("archive", f"{len(problems)} file(s) failed verification")
            typer.echo("every catalogued file matches its checksum")
            return
        report = archiver.run(only_day=only_day)
    except ArchiveError as exc:
        raise _fail("archive", str(exc), 2 if "GRIDOS_ARCHIVE_LOCATION" in str(exc) else 1) from None
    except typer.Exit:
        raise
    except Exception as exc:
        raise _unexpected("archive", exc) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps(report.as_dict()))


def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="file to write")],
    from_: Annotated[str, typer.Option("--from", help="start (ISO 8601, inclusive)")],
    to: Annotated[str, typer.Option("--to", help="end (ISO 8601, exclusive)")],
    devices: Annotated[str | None, typer.Option(help="comma-separated device ids (default: all)")] = None,
    format: Annotated[str, typer.Option("--format", help="parquet or csv")] = "parquet",
) -> None:
    """Export samples of a time range, hot and cold tiers merged, to Parquet or CSV."""
    from gridos.archive.export import export as run_export
    from gridos.archive.storage import ArchiveError, open_storage
    from gridos.telemetry.store import to_us

    if format not in ("parquet", "csv"):
        raise _fail("export", f"--format {format!r}: use parquet or csv", 2)
    start, end = _instant("export", "--from", from_), _instant("export", "--to", to)
    if end <= start:
        raise _fail("export", "--to must be after --from", 2)
    core = _settings("export")
    settings = core.archive
    engine = _engine("export", core)
    try:
        storage = open_storage(settings) if settings.enabled else None
        ids = [d.strip() for d in devices.split(",") if d.strip()] if devices else None
        n = run_export(engine, storage, to_us(start), to_us(end), ids, format, output)
    except ArchiveError as exc:
        raise _fail("export", str(exc)) from None
    except Exception as exc:
        raise _unexpected("export", exc) from None
    finally:
        engine.dispose()
    typer.echo(json.dumps({"rows": n, "output": str(output), "format": format}))


def _backup_step(command: str, work: Callable[[Engine], T]) -> T:
    """Run `work` on an engine for the configured database, then dispose of it. A BackupError exits 2,
    anything else 1."""
    from gridos.archive.backup import BackupError

    engine = _engine(command, _settings(command))
    try:
        return work(engine)
    except BackupError as exc:
        raise _fail(command, str(exc), 2) from None
    except Exception as exc:
        raise _unexpected(command, exc) from None
    finally:
        engine.dispose()


def backup(
    output: Annotated[Path, typer.Option("--output", "-o", help="empty or new directory")],
) -> None:
    """Back up the database (devices, rules, alarms and their audit, samples, rollups, catalog) as
    Parquet files plus a manifest; consistent while GridOS runs. Works for SQLite and PostgreSQL."""
    from gridos.archive.backup import backup as run_backup

    manifest = _backup_step("backup", lambda engine: run_backup(engine, output))
    typer.echo(
        json.dumps({"output": str(output), "tables": {k: v["rows"] for k, v in manifest["tables"].items()}})
    )


def restore(
    input: Annotated[Path, typer.Option("--input", "-i", help="a directory written by `gridos backup`")],
    force: Annotated[bool, typer.Option(help="replace the data of a database that is not empty")] = False,
) -> None:
    """Restore a backup into the configured database (migrated first). Refuses a non-empty database
    unless --force. Everything is loaded in one transaction: all or nothing."""
    from gridos.archive.backup import restore as run_restore
    from gridos.db.migrate import upgrade

    def migrate_and_restore(engine: Engine) -> dict[str, Any]:
        upgrade(engine)
        return run_restore(engine, input, force)

    result = _backup_step("restore", migrate_and_restore)
    typer.echo(json.dumps(result))


def register(app: typer.Typer) -> None:
    for command in (archive, export, backup, restore):
        app.command()(command)
