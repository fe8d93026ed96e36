"""The IEC 60870-5-104 client against real c104 outstations (the cases are in iec104_cases.py), run in a
child pytest process.

Why a child: c104 2.2.1 (lib60870 underneath) segfaults now and then inside its own threads while links
drop and reconnect (about one run of the cases in three on this machine; the native frames give no
Python line). A crash of the child fails only this test instead of ending the whole session, and a child
that died of a signal is run again, at most twice. A case that fails (an assertion, an exception) fails
this test at once: only a crash is retried, and every crash is printed. See docs/adr/0052 (known issues).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

CASES = Path(__file__).with_name("iec104_cases.py")
ATTEMPTS = 3

pytestmark = [
    pytest.mark.slow,
    # Quarantined from the default suite: besides the c104 crash, the database-outage case failed once in
    # a fresh-clone CI run after a crash-retry. Run with GRIDOS_TEST_IEC104=1 (ADR 0052, issue 19 open).
    pytest.mark.skipif(
        os.environ.get("GRIDOS_TEST_IEC104") != "1", reason="c104 crashes now and then: GRIDOS_TEST_IEC104=1"
    ),
]


def test_iec104_client_cases_in_a_child_process() -> None:
    crashes: list[str] = []
    for _ in range(ATTEMPTS):
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(CASES)],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=Path(__file__).resolve().parents[2],
        )
        if result.returncode >= 0:
            break
        crashes.append(f"killed by {signal.Signals(-result.returncode).name}: {result.stderr[-1500:]}")
    for crash in crashes:
        print(f"c104 crash (retried): {crash}")
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:] + "\n".join(crashes)
