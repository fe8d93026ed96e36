"""Secret scan for `make check-secrets`: detect-secrets over the given files; any finding that is not an audited
entry of .secrets.baseline (same file, same secret hash) fails with `file:line: type`. Unlike
detect-secrets-hook it never rewrites the baseline, so a check cannot change the tree it checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXCLUDE = r"^(uv\.lock|package-lock\.json|tools/checkov\.lock\.txt|\.secrets\.baseline)$"


def main(argv: list[str]) -> int:
    baseline_path, files = Path(argv[0]), argv[1:]
    scan = subprocess.run(
        [
            str(Path(sys.executable).parent / "detect-secrets"),
            "scan",
            "--all-files",
            "--exclude-files",
            EXCLUDE,
            *files,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = json.loads(scan.stdout)["results"]
    known = {
        (name, entry["hashed_secret"])
        for name, entries in json.loads(baseline_path.read_text())["results"].items()
        for entry in entries
        if entry.get("is_secret") is False
    }
    new = [
        f"{name}:{entry['line_number']}: {entry['type']}"
        for name, entries in sorted(found.items())
        for entry in entries
        if (name, entry["hashed_secret"]) not in known
    ]
    for line in new:
        print(line, file=sys.stderr)
    if new:
        print(
            f"check-secrets: {len(new)} possible secret(s) not in {baseline_path} "
            "(remove them, or audit and add them: make secrets-baseline, detect-secrets audit)",
            file=sys.stderr,
        )
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
