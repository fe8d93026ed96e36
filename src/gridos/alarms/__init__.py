"""GridOS alarms (placeholder until its feature lands)."""

from __future__ import annotations

from fastapi import FastAPI


def install(app: FastAPI) -> None:
    """Attach this feature to the app: routers, observers of committed samples, start/stop hooks."""
