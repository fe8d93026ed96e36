"""gridctl's checks (`validate`, `infra`) use tools that the GridOS service does not: python-hcl2,
kubernetes-validate, jsonschema, regopy and PyYAML. They are the `tooling` extra (`uv sync --extra tooling`,
or `pip install 'gridos[tooling]'`; the dev environment has them), so a runtime-only install (the container
image, `uv sync --no-dev`) stays small and `gridctl --help` still works there. A command that needs them
says so in one line instead of failing with an ImportError."""

from __future__ import annotations

import importlib
import sys

import typer

# import name -> distribution name
TOOLING = {
    "hcl2": "python-hcl2",
    "kubernetes_validate": "kubernetes-validate",
    "jsonschema": "jsonschema",
    "regopy": "regopy",
    "yaml": "PyYAML",
}
EXIT_USAGE = 2


def missing(*modules: str) -> list[str]:
    absent = []
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            absent.append(TOOLING[module])
    return absent


def require(command: str, *modules: str) -> None:
    """Exit 2 with one line when a module `command` needs is not installed."""
    absent = missing(*modules)
    if absent:
        print(
            f"gridctl {command}: needs {', '.join(absent)} (gridctl's tooling extra): run "
            "`uv sync --extra tooling` or `pip install 'gridos[tooling]'`",
            file=sys.stderr,
        )
        raise typer.Exit(EXIT_USAGE)
