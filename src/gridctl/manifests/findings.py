"""What the checks look at (one rendered object, with the file it came from) and what they report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ManifestObject:
    """One object of a rendered target. `source` is the repository file that defined it (kustomize origin
    annotation); `patched_by` the files whose patches changed it."""

    target: str
    source: str
    doc: dict[str, Any]
    environment: str | None = None
    patched_by: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return str(self.doc.get("kind", "?"))

    @property
    def name(self) -> str:
        return str((self.doc.get("metadata") or {}).get("name", "?"))

    @property
    def namespace(self) -> str | None:
        ns = (self.doc.get("metadata") or {}).get("namespace")
        return str(ns) if ns else None

    @property
    def ref(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        return dict((self.doc.get("metadata") or {}).get("labels") or {})

    @property
    def annotations(self) -> dict[str, str]:
        return dict((self.doc.get("metadata") or {}).get("annotations") or {})


@dataclass(frozen=True)
class Finding:
    check: str
    file: str
    obj: str
    message: str
    target: str = ""
    extra_files: tuple[str, ...] = field(default=())

    @classmethod
    def of(cls, check: str, obj: ManifestObject, message: str) -> Finding:
        return cls(check, obj.source, obj.ref, message, obj.target, obj.patched_by)

    def __str__(self) -> str:
        patched = f" (patched by {', '.join(self.extra_files)})" if self.extra_files else ""
        where = f" [{self.target}]" if self.target else ""
        return f"{self.file}{patched}: {self.obj}{where}: {self.check}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "file": self.file,
            "object": self.obj,
            "target": self.target,
            "patchedBy": list(self.extra_files),
            "message": self.message,
        }
