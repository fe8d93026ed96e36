"""What the Modbus register maps and the IEC 104 point maps share: reading the YAML file named by a setting,
and the offline validator (`python -m gridos.ingest.registermap FILE...`, `... iec104map FILE...`)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sized
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gridos.ingest.config import ConnectorConfigError
from gridos.telemetry.catalogue import Measurement, build_catalogue

T = TypeVar("T", bound=Sized)


def read_yaml(path: Path, setting: str) -> Any:
    """The parsed file; a ConnectorConfigError with a one-line message when it cannot be read or parsed."""
    try:
        return YAML(typ="safe").load(path.read_text())
    except OSError as exc:
        raise ConnectorConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None
    except YAMLError as exc:
        one_line = " ".join(
            part.strip() for part in str(exc).splitlines() if part.strip() and part.strip() != "^"
        )
        raise ConnectorConfigError(f"{path}: not valid YAML: {one_line}") from None


def validate_files(
    module: str,
    argv: list[str] | None,
    load: Callable[[Path, dict[str, Measurement]], T],
    summary: Callable[[T], str],
) -> int:
    """Load every file named on the command line: prints `<file>: ok (<summary>)` or the error. Exit code 0
    when all are valid, 1 when one is not, 2 without files."""
    paths = sys.argv[1:] if argv is None else argv
    if not paths:
        print(f"usage: python -m {module} FILE...", file=sys.stderr)
        return 2
    failed = 0
    for path in paths:
        try:
            loaded = load(Path(path), build_catalogue())
        except ConnectorConfigError as exc:
            print(f"{exc}", file=sys.stderr)
            failed += 1
        else:
            print(f"{path}: ok ({summary(loaded)})")
    return 1 if failed else 0


def invalid(source: str, exc: ValidationError, *within: str | int) -> ConnectorConfigError:
    """The first error of `exc` in one line: `<source>: <where in the file>: <message>`."""
    e = exc.errors()[0]
    where = ".".join(str(p) for p in (*within, *e["loc"]))
    return ConnectorConfigError(f"{source}: {where}: {e['msg']}")


def check_measurement(
    catalogue: dict[str, Measurement], measurement: str, where: str, boolean: bool, kinds: str
) -> None:
    """`measurement` is in the catalogue and of the kind its source carries (`boolean` or numeric); else a
    ConnectorConfigError naming `where` and, for a kind mismatch, the sources each kind takes (`kinds`)."""
    m = catalogue.get(measurement)
    if m is None:
        raise ConnectorConfigError(
            f"{where}: unknown measurement {measurement!r} (known: {', '.join(catalogue)})"
        )
    if (m.kind == "bool") != boolean:
        raise ConnectorConfigError(f"{where}: {measurement} is {m.kind}; {kinds}")
