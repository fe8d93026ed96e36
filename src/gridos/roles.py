"""The roles a person or an API key can hold. A leaf module: settings, identity and security all need it."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    engineer = "engineer"  # alarm rules and the device registry
    admin = "admin"
    ingest = "ingest"
