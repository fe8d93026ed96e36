"""`gridos export`: a range with archived and hot days, one file, every sample once; bad arguments are
one-line errors with exit code 2."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from gridos.app import create_app
from gridos.cli import app as cli
from tests.support.history import DEVICES, midnight, seed


@pytest.fixture
def seeded(make_settings, tokens, tmp_path, monkeypatch) -> Iterator[tuple[TestClient, int]]:  # type: ignore[no-untyped-def]
    archive = {
        "GRIDOS_ARCHIVE_LOCATION": str(tmp_path / "archive"),
        "GRIDOS_ARCHIVE_AFTER_DAYS": "7",
        "GRIDOS_ARCHIVE_SCHEDULE": "false",
    }
    settings = make_settings(archive)
    # The `gridos export` commands of the tests run in this process and, like the real command, read
    # their settings from the environment.
    for key, value in (archive | {"GRIDOS_DATABASE_URL": settings.sqlalchemy_url}).items():
        monkeypatch.setenv(key, value)
    with TestClient(create_app(settings), headers=tokens.header("admin")) as client:
        stored = seed(client)
        client.app.state.services.archiver.run()  # type: ignore[attr-defined]
        yield client, stored


def test_export_parquet_and_csv_across_tiers(seeded: tuple[TestClient, int], tmp_path) -> None:  # type: ignore[no-untyped-def]
    _, stored = seeded
    runner = CliRunner()
    start, end = midnight(11).isoformat(), midnight(5).isoformat()
    out = tmp_path / "all.parquet"
    r = runner.invoke(cli, ["export", "--from", start, "--to", end, "--format", "parquet", "-o", str(out)])
    assert r.exit_code == 0, r.output
    table = pq.read_table(out)
    assert table.num_rows == stored
    keys = list(
        zip(
            table["device_id"].to_pylist(),
            table["measurement"].to_pylist(),
            table["ts"].to_pylist(),
            strict=True,
        )
    )
    assert keys == sorted(keys) and len(set(keys)) == stored

    out_csv = tmp_path / "one.csv"
    r = runner.invoke(
        cli,
        [
            "export",
            "--from",
            start,
            "--to",
            end,
            "--devices",
            "south/feeder-1",
            "--format",
            "csv",
            "-o",
            str(out_csv),
        ],
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == stored // len(DEVICES)
    assert {row["device_id"] for row in rows} == {"south/feeder-1"}
    first = datetime.fromisoformat(rows[0]["ts"])
    assert first.utcoffset() is not None and first.astimezone(UTC) == midnight(11)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xlsx"], "--format 'xlsx': use parquet or csv"),
        (["--from", "yesterday"], "--from 'yesterday' is not an ISO 8601 date or time"),
        (["--from", "2026-01-02", "--to", "2026-01-01"], "--to must be after --from"),
    ],
)
def test_export_bad_arguments(args: list[str], message: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = {"--from": "2026-01-01", "--to": "2026-01-02", "--format": "csv"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["export", "-o", str(tmp_path / "x")] + [x for kv in base.items() for x in kv]
    r = CliRunner().invoke(cli, argv)
    assert r.exit_code == 2
    assert message in r.output


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        ({}, [], "gridos archive: the cold tier is off: set GRIDOS_ARCHIVE_LOCATION"),
        ({"GRIDOS_ARCHIVE_LOCATION": "s3://bucket/x"}, [], "unsupported scheme 's3'"),
        ({"GRIDOS_ARCHIVE_LOCATION": "abfs://nocontainer"}, [], "expected abfs://<container>@<account>"),
        ({"GRIDOS_ARCHIVE_AFTER_DAYS": "31"}, [], "GRIDOS_ARCHIVE_AFTER_DAYS (31) must be less than"),
        ({}, ["--day", "2026-13-01"], "--day '2026-13-01' is not YYYY-MM-DD"),
    ],
)
def test_archive_configuration_errors(
    env: dict[str, str], args: list[str], message: str, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("GRIDOS_DATABASE_URL", f"sqlite:///{tmp_path / 'gridos.db'}")
    for key in ("GRIDOS_ARCHIVE_LOCATION", "GRIDOS_ARCHIVE_AFTER_DAYS"):
        monkeypatch.delenv(key, raising=False)
    if "GRIDOS_ARCHIVE_AFTER_DAYS" in env or args:
        monkeypatch.setenv("GRIDOS_ARCHIVE_LOCATION", str(tmp_path / "archive"))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    r = CliRunner().invoke(cli, ["archive", *args])
    assert r.exit_code == 2, r.output
    assert message in r.output
