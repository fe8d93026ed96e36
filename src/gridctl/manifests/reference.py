"""The running GridOS the manifests are checked against: which metrics it really exports on /metrics, and
which HTTP paths really answer. gridctl never imports gridos: it starts `python -m gridos serve` (or uses a
URL you give it) and talks HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_SUFFIXES = {
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
}


class ReferenceError_(Exception):
    """GridOS could not be started or scraped."""


def exported_metric_names(text: str) -> set[str]:
    """Series names of a Prometheus text exposition, including those declared (# TYPE) but not yet observed:
    histograms add _bucket/_count/_sum, counters _total/_created."""
    names: set[str] = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            parts = line.split()
            if len(parts) >= 4:
                name, kind = parts[2], parts[3]
                names.add(name)
                names.update(name + s for s in _SUFFIXES.get(kind, ()))
                if kind == "counter":
                    base = name.removesuffix("_total")
                    names.update({base + "_total", base + "_created"})
        elif line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


@dataclass
class GridosReference:
    url: str
    metrics: set[str] = field(default_factory=set)
    _paths: dict[str, int] = field(default_factory=dict)

    def scrape(self) -> GridosReference:
        try:
            response = httpx.get(f"{self.url}/metrics", timeout=10)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise ReferenceError_(f"cannot scrape {self.url}/metrics: {exc}") from exc
        self.metrics = exported_metric_names(response.text)
        return self

    def status(self, path: str) -> int:
        """HTTP status of GET path (0 when it does not answer); cached."""
        if path not in self._paths:
            try:
                self._paths[path] = httpx.get(f"{self.url}{path}", timeout=10).status_code
            except httpx.HTTPError:
                self._paths[path] = 0
        return self._paths[path]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_gridos(command: list[str] | None = None, timeout: float = 120.0) -> Iterator[GridosReference]:
    """Start GridOS on a free port of 127.0.0.1 with a temporary SQLite database; stop it afterwards."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="gridctl-validate-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDOS_")}
        env.update(
            {
                "GRIDOS_HOST": "127.0.0.1",
                "GRIDOS_PORT": str(port),
                "GRIDOS_DATABASE_URL": f"sqlite:///{Path(tmp) / 'gridos.db'}",
                "GRIDOS_LOG_LEVEL": "WARNING",
                "GRIDOS_SHUTDOWN_GRACE_SECONDS": "1",
            }
        )
        log = (Path(tmp) / "gridos.log").open("wb")
        argv = command or [sys.executable, "-m", "gridos", "serve"]
        try:
            proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        except OSError as exc:
            raise ReferenceError_(f"cannot start GridOS ({' '.join(argv)}): {exc}") from exc
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    tail = (Path(tmp) / "gridos.log").read_text(errors="replace")[-800:]
                    raise ReferenceError_(f"GridOS exited with {proc.returncode}: {tail}")
                try:
                    if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise ReferenceError_(f"GridOS did not become ready on {url} within {timeout:.0f}s")
                time.sleep(0.1)
            yield GridosReference(url).scrape()
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.close()
