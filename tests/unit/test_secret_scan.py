"""The secret scan of `make check-secrets`: the committed tree passes against its audited baseline, and a
planted credential fails it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOOK = Path(sys.executable).parent / "detect-secrets-hook"


def scan(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(HOOK), "--baseline", str(ROOT / ".secrets.baseline"), *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_a_planted_credential_fails_the_scan_and_is_named(tmp_path: Path) -> None:
    planted = tmp_path / "settings.py"
    planted.write_text('db_password = "Zq8#rT2!vLp9@xW4"\n')  # pragma: allowlist secret
    result = scan(planted)
    assert result.returncode != 0
    assert "settings.py:1" in result.stdout


def test_ordinary_code_passes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.py"
    clean.write_text('password = os.environ["GRIDOS_DB_PASSWORD"]\n')
    assert scan(clean).returncode == 0, scan(clean).stdout


def test_the_baseline_only_holds_audited_false_positives() -> None:
    import json

    baseline = json.loads((ROOT / ".secrets.baseline").read_text())
    findings = [f for found in baseline["results"].values() for f in found]
    assert findings, "baseline unexpectedly empty"
    assert all(f.get("is_secret") is False for f in findings), "unaudited entries in .secrets.baseline"
