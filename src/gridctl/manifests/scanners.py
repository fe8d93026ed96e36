"""checkov on the rendered manifests. checkov knows no Argo Rollouts kinds, so every Rollout is also written
as the Deployment it stands for (same metadata, selector and pod template): its pods get the same checks as
any Deployment's. Skips are inline `checkov.io/skipN: CKV_ID=reason` annotations on the object."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gridctl.manifests.findings import Finding, ManifestObject
from gridctl.manifests.render import Target


class ScannerError(Exception):
    pass


def checkov_binary(root: Path) -> str:
    candidates = (
        os.environ.get("CHECKOV"),
        str(root / ".venv-checkov" / "bin" / "checkov"),
        str(Path.cwd() / ".venv-checkov" / "bin" / "checkov"),
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    found = shutil.which("checkov")
    if not found:
        raise ScannerError(
            "checkov not found (run scripts/install-system-deps.sh, or set CHECKOV=/path/to/checkov)"
        )
    return found


def as_scanned(doc: dict[str, Any]) -> list[dict[str, Any]]:
    if doc.get("kind") != "Rollout":
        return [doc]
    spec = doc.get("spec") or {}
    shadow = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": doc.get("metadata") or {},
        "spec": {k: spec[k] for k in ("replicas", "selector", "template") if k in spec},
    }
    return [doc, shadow]


def checkov(root: Path, rendered: list[tuple[Target, list[ManifestObject]]]) -> list[Finding]:
    if not rendered:
        return []
    binary = checkov_binary(root)
    index: dict[tuple[str, str, str, str], ManifestObject] = {}
    with tempfile.TemporaryDirectory(prefix="gridctl-checkov-") as tmp:
        for n, (_target, objects) in enumerate(rendered):
            docs = [d for o in objects for d in as_scanned(o.doc)]
            with (Path(tmp) / f"{n:02d}.yaml").open("w") as fh:
                yaml.dump_all(docs, fh, Dumper=yaml.CSafeDumper, default_flow_style=False)
            for o in objects:
                index[
                    (
                        f"{n:02d}",
                        "Deployment" if o.kind == "Rollout" else o.kind,
                        o.namespace or "default",
                        o.name,
                    )
                ] = o
        proc = subprocess.run(
            [binary, "-d", tmp, "--framework", "kubernetes", "--quiet", "--compact", "-o", "json"],
            capture_output=True,
            text=True,
        )
        if proc.returncode not in (0, 1) or not proc.stdout.strip():
            raise ScannerError(f"checkov failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    reports = json.loads(proc.stdout)
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        for check in (report.get("results") or {}).get("failed_checks") or []:
            kind, _, rest = str(check.get("resource", "")).partition(".")
            namespace, _, name = rest.partition(".")
            file_key = Path(str(check.get("file_path", ""))).stem
            obj = index.get((file_key, kind, namespace, name))
            message = f"{check.get('check_id')} {check.get('check_name')}"
            if obj is None:
                findings.append(
                    Finding("checkov", str(check.get("file_path")), check.get("resource", "?"), message)
                )
            else:
                findings.append(Finding.of("checkov", obj, message))
    return findings
