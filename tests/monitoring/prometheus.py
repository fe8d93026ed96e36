"""A real Prometheus server (Debian package `prometheus`) on 127.0.0.1 for tests, scraping given targets."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ruamel.yaml import YAML

from tests.support.postgres import free_port

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


@dataclass
class ScrapeTarget:
    address: str  # host:port
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class PrometheusServer:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def query(self, promql: str) -> list[dict[str, Any]]:
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10).json()
        if body["status"] != "success":
            raise RuntimeError(f"{promql}: {body}")
        return list(body["data"]["result"])

    def wait_for(self, promql: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll until the query returns at least one series (targets scraped, rates computable)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = self.query(promql)
            if result:
                return result
            time.sleep(0.5)
        raise AssertionError(f"no data for {promql} within {timeout}s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> PrometheusServer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def start_prometheus(
    tmp_path: Path, targets: list[ScrapeTarget] | None = None, scrape_interval: str = "1s"
) -> PrometheusServer:
    port = free_port()
    config = {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "scrape_configs": [
            {
                "job_name": "gridos",
                "scrape_interval": scrape_interval,
                "scrape_timeout": scrape_interval,
                "static_configs": [{"targets": [t.address], "labels": t.labels} for t in targets or []],
            }
        ],
    }
    work = tmp_path / f"prometheus-{port}"
    work.mkdir(parents=True)
    config_path = work / "prometheus.yml"
    with config_path.open("w") as fh:
        YAML().dump(config, fh)
    log_path = work / "prometheus.log"
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={work / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
    )
    server = PrometheusServer(url=f"http://127.0.0.1:{port}", proc=proc, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"prometheus exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"prometheus did not become ready: {log_path.read_text()[-2000:]}")
