"""The promotion ledger: `deploy/promotions/<env>.yaml` in Git answers "which image runs where, since when,
and what verified it" without asking any cluster.

Entries are appended in order (deploy, promote, rollback); the last one is what the environment's overlay
deploys. Verification and failure are recorded on the entry they concern. An image counts as verified in
an environment when its latest entry there carries `verified_at` and no `failed_at`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.image import DIGEST, ImageReference, check_environment
from gridctl.delivery.yamlfile import YamlDocument

_HEADER = """\
# Promotion ledger of the {env} environment: which image runs here and what verified it.
# Written by gridctl (deploy, promote, ledger verify, rollback) through pull requests; do not edit by hand.
# The last entry is what deploy/k8s/overlays/{env}/kustomization.yaml deploys.
environment: {env}
entries: []
"""

ACTIONS = ("deploy", "promote", "rollback")


def now_utc() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def ledger_path(repo: Path, env: str) -> Path:
    return repo / "deploy" / "promotions" / f"{check_environment(env)}.yaml"


@dataclass
class LedgerEntry:
    image: str
    digest: str
    action: str
    source_commit: str
    deployed_at: str
    verified_at: str | None = None
    checks: list[str] = field(default_factory=list)
    failed_at: str | None = None
    promoted_from: str | None = None
    rolled_back_from: str | None = None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None and self.failed_at is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "digest": self.digest,
            "action": self.action,
            "source_commit": self.source_commit,
            "deployed_at": self.deployed_at,
            "verified_at": self.verified_at,
            "checks": list(self.checks),
            "failed_at": self.failed_at,
            "promoted_from": self.promoted_from,
            "rolled_back_from": self.rolled_back_from,
        }

    @classmethod
    def from_map(cls, raw: Any, where: str) -> LedgerEntry:
        if not isinstance(raw, dict):
            raise DeliveryError(f"{where}: an entry is not a mapping")
        missing = [k for k in ("image", "digest", "action", "source_commit", "deployed_at") if not raw.get(k)]
        if missing:
            raise DeliveryError(f"{where}: entry without {', '.join(missing)}")
        if not DIGEST.match(str(raw["digest"])):
            raise DeliveryError(f"{where}: entry digest {raw['digest']!r} is not sha256:<64 hex>")
        checks = raw.get("checks") or []
        return cls(
            image=str(raw["image"]),
            digest=str(raw["digest"]),
            action=str(raw["action"]),
            source_commit=str(raw["source_commit"]),
            deployed_at=str(raw["deployed_at"]),
            verified_at=_opt(raw.get("verified_at")),
            checks=[str(c) for c in checks],
            failed_at=_opt(raw.get("failed_at")),
            promoted_from=_opt(raw.get("promoted_from")),
            rolled_back_from=_opt(raw.get("rolled_back_from")),
        )


def _opt(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class PromotionLedger:
    """One environment's ledger file, loaded for reading and round-trip editing."""

    def __init__(self, path: Path, env: str) -> None:
        self.path = path
        self.env = check_environment(env)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_HEADER.format(env=env))
        self._doc = YamlDocument(path)
        data = self._doc.data
        if not isinstance(data, CommentedMap):
            raise DeliveryError(f"{path}: expected a mapping with environment: and entries:")
        if data.get("environment") != env:
            raise DeliveryError(f"{path}: environment is {data.get('environment')!r}, expected {env!r}")
        raw = data.get("entries")
        if raw is None:
            raw = data["entries"] = CommentedSeq()
        if not isinstance(raw, list):
            raise DeliveryError(f"{path}: entries: is not a list")
        self._raw: list[Any] = raw
        self.entries = [LedgerEntry.from_map(e, f"{path} entry {i + 1}") for i, e in enumerate(raw)]

    @classmethod
    def open(cls, repo: Path, env: str) -> PromotionLedger:
        return cls(ledger_path(repo, env), env)

    @property
    def current(self) -> LedgerEntry | None:
        return self.entries[-1] if self.entries else None

    def latest_for(self, digest: str) -> LedgerEntry | None:
        for entry in reversed(self.entries):
            if entry.digest == digest:
                return entry
        return None

    def is_verified(self, digest: str) -> bool:
        entry = self.latest_for(digest)
        return entry is not None and entry.verified

    def previous_verified(self) -> LedgerEntry | None:
        """The newest verified image other than the current one: what a rollback restores."""
        current = self.current
        for entry in reversed(self.entries):
            if current is not None and entry.digest == current.digest:
                continue
            if self.is_verified(entry.digest):
                return self.latest_for(entry.digest)
        return None

    def append(
        self,
        image: ImageReference,
        action: str,
        source_commit: str,
        promoted_from: str | None = None,
        rolled_back_from: str | None = None,
        verified_at: str | None = None,
        checks: list[str] | None = None,
    ) -> LedgerEntry:
        if action not in ACTIONS:
            raise DeliveryError(f"unknown ledger action {action!r}")
        entry = LedgerEntry(
            image=str(image),
            digest=image.digest,
            action=action,
            source_commit=source_commit,
            deployed_at=now_utc(),
            verified_at=verified_at,
            checks=list(checks or []),
            promoted_from=promoted_from,
            rolled_back_from=rolled_back_from,
        )
        self.entries.append(entry)
        raw = CommentedMap(entry.to_dict())
        raw["checks"] = _flow_list(entry.checks)
        if isinstance(self._raw, CommentedSeq) and self._raw.fa.flow_style():
            self._raw.fa.set_block_style()
        self._raw.append(raw)
        return entry

    def mark_verified(self, digest: str, checks: list[str]) -> LedgerEntry:
        """Record that `digest`, the image currently deployed here, passed `checks`."""
        current = self.current
        if current is None or current.digest != digest:
            now = current.digest if current else "nothing"
            raise DeliveryError(
                f"{self.env} runs {now}, not {digest}: only the deployed image can be verified"
            )
        if not checks:
            raise DeliveryError("name at least one check that passed (--check smoke --check monitor)")
        current.verified_at = now_utc()
        current.failed_at = None
        current.checks = list(dict.fromkeys([*current.checks, *checks]))
        raw = self._raw[-1]
        raw["verified_at"] = current.verified_at
        raw["failed_at"] = None
        raw["checks"] = _flow_list(current.checks)
        return current

    def mark_failed(self) -> LedgerEntry:
        current = self.current
        if current is None:
            raise DeliveryError(f"{self.path}: the {self.env} ledger is empty")
        current.failed_at = now_utc()
        self._raw[-1]["failed_at"] = current.failed_at
        return current

    def save(self) -> None:
        self._doc.save()


def _flow_list(items: list[str]) -> CommentedSeq:
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq
