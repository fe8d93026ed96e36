"""The four role tokens of a test app (`tokens` fixture in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Tokens:
    admin: str
    operator: str
    viewer: str
    ingest: str

    def header(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, role)}"}
