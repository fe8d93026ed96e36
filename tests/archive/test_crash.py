"""kill -9 of a real `gridos archive` process at each step of its protocol (after a file is written and
verified, after a day is catalogued, after a day's hot rows are deleted), then a rerun: after every kill
the history API answers exactly as before archiving (nothing lost, nothing doubled), and the final state
holds every sample once, in the cold tier only."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from gridos.app import create_app
from gridos.archive.tables import ACTIVE, archive_files
from tests.support.history import answers, history_queries, midnight, seed


def _run_until(env: dict[str, str], step: str | None) -> tuple[int, list[dict]]:
    """Run `gridos archive`; SIGKILL it as soon as it logs `step` (None: let it finish)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridos", "archive"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    seen: list[dict] = []
    for line in proc.stderr:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        seen.append(entry)
        if step is not None and entry.get("step") == step:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(120)
    return proc.returncode, seen


def _state(client: TestClient) -> tuple[int, int, int]:
    """(hot samples of archivable days, active catalog rows, catalogued rows)."""
    engine = client.app.state.services.engine  # type: ignore[attr-defined]
    limit = int(midnight(7).timestamp()) * 1_000_000
    with engine.connect() as conn:
        hot = conn.execute(text("SELECT count(*) FROM samples WHERE ts < :l"), {"l": limit}).scalar()
        files, rows = conn.execute(
            select(func.count(), func.coalesce(func.sum(archive_files.c.rows), 0)).where(
                archive_files.c.state == ACTIVE
            )
        ).one()
    return int(hot or 0), int(files), int(rows)


@pytest.mark.slow
def test_kill_9_during_archiving_then_rerun(make_settings, tokens, database_url: str, tmp_path: Path) -> None:
    archive_env = {
        "GRIDOS_ARCHIVE_LOCATION": str(tmp_path / "archive"),
        "GRIDOS_ARCHIVE_CACHE_DIR": str(tmp_path / "cache"),
        "GRIDOS_ARCHIVE_AFTER_DAYS": "7",
        "GRIDOS_ARCHIVE_SCHEDULE": "false",
    }
    env = os.environ | archive_env | {"GRIDOS_DATABASE_URL": database_url, "GRIDOS_LOG_JSON": "true"}
    app = create_app(make_settings(archive_env))
    with TestClient(app, headers=tokens.header("admin")) as client:
        seed(client)
        queries = history_queries()
        before = answers(client, queries)
        total_hot = _state(client)[0]

        states = []
        for step in ("written", "catalogued", "hot_deleted"):
            code, _ = _run_until(env, step)
            assert code == -signal.SIGKILL
            hot, files, catalogued = _state(client)
            states.append((step, hot, files, catalogued))
            # Every archivable sample is still hot, or catalogued, or both (between steps 3 and 5).
            assert hot + catalogued >= total_hot, states
            assert answers(client, queries) == before, states
        # The kills landed inside the protocol: some days catalogued while others were still hot.
        assert any(0 < hot < total_hot and catalogued for _, hot, _, catalogued in states), states

        code, log = _run_until(env, None)
        assert code == 0, log
        assert _state(client) == (0, 8, total_hot)
        assert answers(client, queries) == before
        # Another run finds nothing to do.
        again = client.app.state.services.archiver.run()  # type: ignore[attr-defined]
        assert again.days == [] and again.files == 0
