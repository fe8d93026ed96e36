"""Throw-away copies of deploy/ in which tests plant one mistake each, and the assertion that `gridctl validate`
names the file and object at fault."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gridctl.manifests.findings import Finding
from gridctl.manifests.validate import ValidationOptions, ValidationReport, validate

ROOT = Path(__file__).resolve().parents[2]
DEPLOY_PARTS = ("k8s", "schemas", "policies", "argocd")


@dataclass(frozen=True)
class Plant:
    """Replace `old` by `new` in `path` (`count` occurrences; `old` is a regular expression when `regex`)."""

    path: str
    old: str
    new: str
    count: int = 1
    regex: bool = False


class Repo:
    """A copy of deploy/ to break on purpose."""

    def __init__(self, root: Path, gridos_url: str) -> None:
        self.root = root
        self.gridos_url = gridos_url

    @classmethod
    def copy(cls, dest: Path, gridos_url: str) -> Repo:
        for part in DEPLOY_PARTS:
            src = ROOT / "deploy" / part
            if src.is_dir():
                shutil.copytree(src, dest / "deploy" / part)
        return cls(dest, gridos_url)

    def plant(self, path: str, old: str, new: str, count: int = 1, regex: bool = False) -> None:
        file = self.root / path
        text = file.read_text()
        found = len(re.findall(old, text)) if regex else text.count(old)
        assert found >= count, f"{old!r} not in {path}: the planted mistake would be a no-op"
        file.write_text(re.sub(old, new, text, count=count) if regex else text.replace(old, new, count))

    def apply(self, plant: Plant) -> None:
        self.plant(plant.path, plant.old, plant.new, plant.count, plant.regex)

    def validate(
        self, *targets: str, skip: tuple[str, ...] = ("checkov", "policies"), **options: Any
    ) -> ValidationReport:
        """`options`: further fields of ValidationOptions (repository_url, rollouts_values, ...)."""
        return validate(
            ValidationOptions(
                self.root, gridos_url=self.gridos_url, skip=frozenset(skip), targets=targets, **options
            )
        )

    def findings(self, *targets: str, check: str | None = None, **kwargs: tuple[str, ...]) -> list[Finding]:
        found = self.validate(*targets, **kwargs).findings
        return [f for f in found if check is None or f.check == check]


def only(findings: list[Finding], file: str, obj: str, *words: str) -> Finding:
    """The one finding for `obj` in `file` whose message contains all `words`."""
    matching = [f for f in findings if f.file == file and f.obj == obj and all(w in f.message for w in words)]
    assert matching, "\n".join(map(str, findings)) or "no findings at all"
    text = str(matching[0])
    assert text.startswith(f"{file}: {obj}"), text  # the printed line names the file, then the object
    return matching[0]
