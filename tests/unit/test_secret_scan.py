"""The secret scan of `make check-secrets`: the committed tree passes against its audited baseline, and a
planted credential fails it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def scan(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """detect-secrets only scans files below its working directory: run it where the files are."""
    return subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "check_secrets.py"),
            str(ROOT / ".secrets.baseline"),
            *(str(f.relative_to(cwd)) if f.is_absolute() else str(f) for f in files),
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_a_planted_credential_fails_the_scan_and_is_named(tmp_path: Path) -> None:
    planted = tmp_path / "settings.py"
    planted.write_text('db_password = "Zq8#rT2!vLp9@xW4"\n')  # pragma: allowlist secret
    result = scan(planted, cwd=tmp_path)
    assert result.returncode == 1
    assert "settings.py:1: Secret Keyword" in result.stderr


def test_ordinary_code_passes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text('password = os.environ["GRIDOS_DB_PASSWORD"]\n')
    result = scan(clean, cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_tracked_tree_passes_and_the_baseline_is_left_untouched() -> None:
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=ROOT, check=True)
    before = (ROOT / ".secrets.baseline").read_bytes()
    result = scan(*(Path(f) for f in files.stdout.split()))
    assert result.returncode == 0, result.stderr
    assert (ROOT / ".secrets.baseline").read_bytes() == before


def test_the_baseline_only_holds_audited_false_positives() -> None:
    import json

    baseline = json.loads((ROOT / ".secrets.baseline").read_text())
    findings = [f for found in baseline["results"].values() for f in found]
    assert findings, "baseline unexpectedly empty"
    assert all(f.get("is_secret") is False for f in findings), "unaudited entries in .secrets.baseline"
