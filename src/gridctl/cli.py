"""The `gridctl` command. Each feature area registers its commands from its own module."""

from __future__ import annotations

import typer

from gridctl.commands import analyze, delivery, infra, loadgate, validate

app = typer.Typer(
    name="gridctl",
    help="GridOS delivery toolkit: manifests, promotion ledger, smoke/monitor, canary analysis.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

for module in (validate, delivery, analyze, infra, loadgate):
    module.register(app)


@app.callback()
def main() -> None:
    """GridOS delivery toolkit."""


if __name__ == "__main__":
    app()
