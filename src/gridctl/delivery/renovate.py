"""Which pinned versions of the repository Renovate keeps current (renovate.json). A pin nobody updates goes
stale silently, so every pin the scanners below find must be covered: by a built-in manager that is enabled
and reads its file, by a custom regex manager that extracts exactly that value, or by a package rule that
disables it on purpose (GridOS's own image, which CI sets)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Renovate's default managerFilePatterns of the built-in managers GridOS uses (docs.renovatebot.com/modules/manager).
DEFAULT_PATTERNS: dict[str, tuple[str, ...]] = {
    "github-actions": (
        r"(^|/)(workflow-templates|\.(?:github|gitea|forgejo)/(?:workflows|actions))/.+\.ya?ml$",
    ),
    "dockerfile": (r"(^|/|\.)([Dd]ocker|[Cc]ontainer)file$", r"(^|/)([Dd]ocker|[Cc]ontainer)file[^/]*$"),
    "terraform": (r"\.tf$",),
    "npm": (r"(^|/)package\.json$",),
    "pep621": (r"(^|/)pyproject\.toml$",),
    "kustomize": (r"(^|/)kustomization\.ya?ml$",),
    "argocd": (),
    "kubernetes": (),
    "pip_requirements": (r"(^|/)[\w-]*requirements([-.]\w+)?\.(txt|pip)$",),
}


@dataclass(frozen=True)
class Pin:
    """One pinned version: where, what kind, the pinned value, and the built-in manager that reads it (None:
    only a custom regex manager can)."""

    file: str
    line: int
    kind: str
    text: str
    value: str
    manager: str | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.kind} {self.value!r} is not covered by renovate.json"


# (kind, files (glob), pattern whose last group is the pinned value, built-in manager or None)
SCANNERS: tuple[tuple[str, tuple[str, ...], str, str | None], ...] = (
    (
        "action",
        (".github/workflows/*.yml", ".github/workflows/*.yaml"),
        r"uses:\s*[\w.-]+/[\w./-]+@([0-9a-f]{40})",
        "github-actions",
    ),
    ("base image digest", ("Dockerfile",), r"@sha256:([0-9a-f]{64})", "dockerfile"),
    ("Argo CD chart", ("deploy/argocd/apps/*.yaml",), r"^\s*targetRevision:\s*(\d+\.\d+\.\d+)\s*$", "argocd"),
    (
        "Terraform version",
        ("infra/terraform/**/versions.tf",),
        r'^\s*(?:required_)?version\s*=\s*"([^"]+)"',
        "terraform",
    ),
    ("Python dependency", ("pyproject.toml",), r'^\s*"([\w.-]+[=<>~!]=?[^"]+)",?\s*$', "pep621"),
    ("npm dependency", ("package.json",), r'^\s*"[@\w./-]+":\s*"([\^~]?\d[^"]*)"', "npm"),
    ("checkov lock", ("tools/*.txt",), r"^[\w.-]+==([\w.]+)", "pip_requirements"),
    (
        "kustomize image",
        ("deploy/k8s/**/kustomization.yaml",),
        r"^\s*(?:digest: (sha256:[0-9a-f]{64})|newTag: (\S+))\s*$",
        "kustomize",
    ),
    (
        "container image",
        ("deploy/k8s/**/*.yaml",),
        r"^\s*(?:-\s*)?image:\s*[\w.-]+/[\w./-]+:([\w.-]+)\s*$",
        "kubernetes",
    ),
    # Free-form pins only a custom regex manager can read.
    (
        "image in chart values",
        ("deploy/argocd/values/*.yaml",),
        r"^\s*image:\s*[\w.-]+/[\w./-]+:([\w.-]+)\s*$",
        None,
    ),
    (
        "chart in a script",
        ("deploy/argocd/bootstrap/*.sh",),
        r'^\s*(?:readonly\s+)?\w*CHART_VERSION="([\d.]+)"',
        None,
    ),
    (
        "tool version",
        (".github/workflows/*.yml", ".github/workflows/*.yaml"),
        r"^\s*\w+_VERSION:\s*(v?\d+\.\d+\.\d+)\s*$",
        None,
    ),
    (
        "pip-installed tool",
        ("Makefile", "mk/*.mk", "scripts/*.sh", ".github/workflows/*.yml", ".ci/run"),
        r"'[\w-]+==([\d.]+)'",
        None,
    ),
)


def _regex(pattern: str) -> re.Pattern[str]:
    """A Renovate managerFilePatterns entry (/regex/ form) or matchStrings entry (JS named groups)."""
    if pattern.startswith("/") and pattern.endswith("/") and len(pattern) > 1:
        pattern = pattern[1:-1]
    return re.compile(pattern.replace("(?<", "(?P<").replace("(?P<=", "(?<=").replace("(?P<!", "(?<!"), re.M)


def scan(root: Path) -> list[Pin]:
    pins: list[Pin] = []
    for kind, globs, pattern, manager in SCANNERS:
        regex = re.compile(pattern, re.M)
        files = sorted({p for g in globs for p in root.glob(g) if p.is_file()})
        for path in files:
            rel = str(path.relative_to(root))
            for number, text in enumerate(path.read_text().splitlines(), start=1):
                m = regex.search(text)
                if m:
                    value = next(g for g in reversed(m.groups()) if g) if m.groups() else m.group(0)
                    pins.append(Pin(rel, number, kind, text.strip(), value, manager))
    return pins


@dataclass(frozen=True)
class RenovateConfig:
    raw: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> RenovateConfig:
        return cls(json.loads(path.read_text()))

    def enabled(self, manager: str) -> bool:
        managers = self.raw.get("enabledManagers")
        return managers is None or manager in managers

    def file_patterns(self, manager: str) -> list[re.Pattern[str]]:
        configured = (self.raw.get(manager) or {}).get("managerFilePatterns") or []
        return [_regex(p) for p in DEFAULT_PATTERNS.get(manager, ())] + [_regex(p) for p in configured]

    def custom_managers(self) -> list[dict[str, Any]]:
        return [m for m in self.raw.get("customManagers") or [] if m.get("customType") == "regex"]

    def disabled_on_purpose(self, pin: Pin) -> bool:
        """A package rule with enabled: false whose package name patterns match the pinned line."""
        for rule in self.raw.get("packageRules") or []:
            if rule.get("enabled") is False:
                for name in rule.get("matchPackageNames") or []:
                    if name.startswith("/") and _regex(name.rstrip("$/") + "/").search(pin.text):
                        return True
        return False


def _custom_covers(manager: dict[str, Any], pin: Pin) -> bool:
    if not any(_regex(p).search(pin.file) for p in manager.get("managerFilePatterns") or []):
        return False
    for pattern in manager.get("matchStrings") or []:
        m = _regex(pattern).search(pin.text)
        if m and m.groupdict().get("currentValue") == pin.value:
            return True
    return False


def covered(config: RenovateConfig, pin: Pin, root: Path) -> bool:
    if (
        pin.manager
        and config.enabled(pin.manager)
        and any(p.search(pin.file) for p in config.file_patterns(pin.manager))
    ):
        return True
    if config.enabled("custom.regex") and any(_custom_covers(m, pin) for m in config.custom_managers()):
        return True
    if pin.kind == "kustomize image":
        # The only kustomize images are GridOS's own (CI rewrites them); Renovate must leave them alone.
        kustomization = (root / pin.file).read_text()
        return config.disabled_on_purpose(
            Pin(pin.file, pin.line, pin.kind, kustomization, pin.value, pin.manager)
        )
    return False


def uncovered(root: Path, config: RenovateConfig | None = None) -> list[Pin]:
    config = config or RenovateConfig.load(root / "renovate.json")
    return [pin for pin in scan(root) if not covered(config, pin, root)]


def dead_custom_managers(root: Path, config: RenovateConfig | None = None) -> list[str]:
    """Custom regex managers that extract nothing: a renamed variable would silently stop updates."""
    config = config or RenovateConfig.load(root / "renovate.json")
    files = [
        p for g in {g for _, globs, _, _ in SCANNERS for g in globs} for p in root.glob(g) if p.is_file()
    ]
    dead = []
    for manager in config.custom_managers():
        patterns = [_regex(p) for p in manager.get("managerFilePatterns") or []]
        strings = [_regex(s) for s in manager.get("matchStrings") or []]
        hit = False
        for path in files:
            rel = str(path.relative_to(root))
            if any(p.search(rel) for p in patterns):
                text = path.read_text(errors="replace")
                if any(s.search(text) for s in strings):
                    hit = True
                    break
        if not hit:
            dead.append(str(manager.get("description") or manager.get("matchStrings")))
    return dead
