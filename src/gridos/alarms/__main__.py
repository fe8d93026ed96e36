"""`python -m gridos.alarms check-rules FILE...`: validate alarm rule files without a database."""

from __future__ import annotations

import sys
from pathlib import Path

from gridos.alarms.rules import RulesFileError, load_rules_file
from gridos.telemetry.catalogue import build_catalogue


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "check-rules":
        print("usage: python -m gridos.alarms check-rules FILE...", file=sys.stderr)
        return 2
    known = set(build_catalogue())
    for name in argv[1:]:
        try:
            rules = load_rules_file(Path(name), known)
        except RulesFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"{name}: {len(rules)} rule(s) OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
