"""gridctl commands: infra (placeholder until its feature lands)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this area's commands to the gridctl app."""
