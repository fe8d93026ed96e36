"""A real Prometheus server (Debian package `prometheus`) on 127.0.0.1 for tests, scraping given targets."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from ruamel.yaml import YAML

from tests.support.postgres import free_port
from tests.support.process import http_ok, stop, wait_ready
from tests.support.wait import eventually

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
        return eventually(lambda: self.query(promql), timeout, interval=0.5, what=f"data for {promql}")

    def stop(self) -> None:
        stop(self.proc, timeout=15)

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
    wait_ready(proc, http_ok(f"{server.url}/-/ready"), "prometheus", log_path, interval=0.2)
    return server
