"""Shipped text refers only to documents of this repository: no "seed NNN" (design documents that are not
in it). What such a reference said is in an ADR (docs/adr) or a doc (docs/) now, or in the text itself."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gridctl.cli import app as gridctl
from gridos.app import create_app
from gridos.config import Settings

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("src", "tests", "docs", "deploy", "infra", ".github", "mk", "benchmarks", "scripts", "tools")
SHIPPED_FILES = ("Makefile", "README.md", "Dockerfile", "pyproject.toml")
# "seed 000", "Seed 001's", "seeds 001, 004", "Seeds 000/001", "seed-004", "the seed's contract", "The seed
# asks"; not test data seeded into a database or a random seed.
EXTERNAL = re.compile(r"\bseeds?[ -]?\d{3}|\bthe seeds?'s\b|\bthe seeds? (?:asks?|puts?|says?)\b", re.I)


def shipped_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", *SHIPPED, *SHIPPED_FILES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if "vendor" not in Path(name).parts and (ROOT / name).is_file()]


def test_no_reference_to_a_seed_document() -> None:
    files = shipped_files()
    assert len(files) > 300
    found = []
    for path in files:
        if path == Path(__file__).resolve():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        found += [
            f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
            for n, line in enumerate(text.splitlines(), 1)
            if EXTERNAL.search(line)
        ]
    assert found == []


def test_user_visible_text_names_documents_of_this_repository(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'g.db'}", api_tokens="admin:t0ken")
    with TestClient(create_app(settings)) as client:
        openapi = client.get("/openapi.json").text
        summary = client.get("/openapi.json").json()["paths"]["/api/v1/health/db"]["get"]["summary"]
    assert summary == "Database health (docs/contract.md)"
    help_text = CliRunner().invoke(gridctl, ["smoke", "--help"], env={"COLUMNS": "200"}).output
    assert "docs/delivery.md" in help_text
    assert not EXTERNAL.search(openapi) and not EXTERNAL.search(help_text)


@pytest.mark.parametrize(
    ("line", "external"),
    [
        ("Seed 000's smoke tests", True),
        ("(seeds 001, 004)", True),
        ("Seeds 000/001/004 ask for", True),
        ("the seed-004 admission policy", True),
        ("the seed's contract", True),
        ("The seed asks for eight tests", True),
        ("seed(cold_client)", False),
        ("the week-old seed data", False),
        ("random.seed(7)", False),
    ],
)
def test_the_pattern(line: str, external: bool) -> None:
    assert bool(EXTERNAL.search(line)) is external
