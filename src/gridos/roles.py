"""The roles a credential can carry (a leaf module: settings, identity and security all use it)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    engineer = "engineer"  # alarm rules and the device registry
    admin = "admin"
    ingest = "ingest"
