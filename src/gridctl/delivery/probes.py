"""Smoke tests and the post-deployment health monitor: GridOS over HTTP only (never imported)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

SMOKE_DEVICE = "test-device"
DEFAULT_TRIES = 5
DEFAULT_DELAY = 10.0


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    attempts: int = 1


@dataclass
class SmokeReport:
    url: str
    passed: bool
    checks: list[CheckResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CheckFailed(Exception):
    """One smoke check's failure; its message goes into the report."""


def _describe(response: httpx.Response) -> str:
    body = response.text.strip().replace("\n", " ")
    return f"HTTP {response.status_code}: {body[:200]}"


def _expect_ok(response: httpx.Response) -> httpx.Response:
    if response.status_code // 100 != 2:
        raise CheckFailed(_describe(response))
    return response


@dataclass
class SmokeTest:
    """The post-deployment smoke checks (docs/delivery.md, `gridctl smoke`). Every check is retried on its own (`tries`, `delay` seconds apart, the delay
    multiplied by `backoff` after each failed try) because a fresh rollout may still be warming up."""

    url: str
    token: str | None = None
    tries: int = DEFAULT_TRIES
    delay: float = DEFAULT_DELAY
    backoff: float = 1.0
    timeout: float = 10.0
    device_id: str = SMOKE_DEVICE
    register_device: bool = True
    sleep: Callable[[float], None] = time.sleep

    def run(self) -> SmokeReport:
        report = SmokeReport(url=self.url, passed=True)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        with httpx.Client(base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout) as client:
            checks: list[tuple[str, Callable[[httpx.Client], str]]] = [
                ("health", lambda c: self._health(c, "/health")),
                ("health-db", lambda c: self._health(c, "/health/db")),
                ("scada-status", self._status),
                ("metrics", self._metrics),
                ("ingest-read-back", self._ingest_read_back),
            ]
            for name, check in checks:
                result = self._retry(name, check, client)
                report.checks.append(result)
                if not result.ok:
                    report.passed = False
                    break
        return report

    def _retry(self, name: str, check: Callable[[httpx.Client], str], client: httpx.Client) -> CheckResult:
        delay = self.delay
        detail = ""
        for attempt in range(1, max(self.tries, 1) + 1):
            try:
                return CheckResult(name, True, check(client), attempt)
            except CheckFailed as exc:
                detail = str(exc)
            except httpx.HTTPError as exc:
                detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt < self.tries:
                self.sleep(delay)
                delay *= self.backoff
        return CheckResult(name, False, detail, max(self.tries, 1))

    def _health(self, client: httpx.Client, path: str) -> str:
        body = _expect_ok(client.get(path)).json()
        status = body.get("status") if isinstance(body, dict) else None
        if status not in ("healthy", "ok", "pass", "up"):
            raise CheckFailed(f"{path} answered status {status!r}")
        return f"{path} {status}"

    def _status(self, client: httpx.Client) -> str:
        if not self.token:
            raise CheckFailed("/api/v1/scada/status needs a token (--token or GRIDCTL_TOKEN)")
        _expect_ok(client.get("/api/v1/scada/status")).json()
        return "/api/v1/scada/status 200"

    def _metrics(self, client: httpx.Client) -> str:
        text = _expect_ok(client.get("/metrics")).text
        if "http_requests_total" not in text:
            raise CheckFailed("/metrics has no http_requests_total")
        return "/metrics exposes http_requests_total"

    def _ingest_read_back(self, client: httpx.Client) -> str:
        """Send a sample and read it back. A device smoke had to register for this is deleted again
        afterwards (pass or fail): smoke runs after every deployment and must leave the system as it found
        it, not a stale device in a site of its own raising a no-sample alarm."""
        if not self.token:
            raise CheckFailed("ingest needs a token (--token or GRIDCTL_TOKEN)")
        # Full precision: two smoke runs within one second (a retry, a re-deployment) must not send the same
        # sample, which GridOS would rightly count as a duplicate of the first and not store again.
        ts = datetime.now(UTC)
        sample = {"device_id": self.device_id, "voltage": 230, "current": 10, "timestamp": ts.isoformat()}
        registered = False
        try:
            response = client.post("/api/v1/scada/data", json=sample)
            if response.status_code == 422 and "unknown device" in response.text and self.register_device:
                registered = self._register(client)
                response = client.post("/api/v1/scada/data", json=sample)
            _expect_ok(response)
            latest = _expect_ok(client.get(f"/api/v1/devices/{self.device_id}/latest")).json()
        finally:
            if registered:
                self._unregister(client)
        measurements = latest.get("measurements") or {}
        voltage = measurements.get("voltage") or {}
        if voltage.get("value") != 230:
            raise CheckFailed(f"read back voltage {voltage.get('value')!r}, expected 230")
        read_ts = datetime.fromisoformat(str(voltage.get("ts")).replace("Z", "+00:00"))
        if read_ts < ts:
            raise CheckFailed(
                f"read back a sample from {read_ts.isoformat()}, older than the one sent ({ts.isoformat()})"
            )
        removed = f" ({self.device_id} registered for the check and removed again)" if registered else ""
        return f"stored and read back {self.device_id} voltage=230 at {read_ts.isoformat()}{removed}"

    def _register(self, client: httpx.Client) -> bool:
        """True when this call created the device (so smoke must remove it)."""
        response = client.post(
            "/api/v1/devices",
            json={"id": self.device_id, "type": "meter", "site": "smoke", "name": "gridctl smoke test"},
        )
        if response.status_code not in (200, 201, 409):
            raise CheckFailed(
                f"{self.device_id} is unknown and could not be registered ({_describe(response)}); register it "
                "or run GridOS with GRIDOS_UNKNOWN_DEVICE=auto_register"
            )
        return response.status_code == 201

    def _unregister(self, client: httpx.Client) -> None:
        response = client.delete(f"/api/v1/devices/{self.device_id}")
        if response.status_code not in (204, 404):
            raise CheckFailed(
                f"could not remove the smoke device {self.device_id} again ({_describe(response)}); "
                f"delete it: DELETE /api/v1/devices/{self.device_id}"
            )


@dataclass
class MonitorReport:
    url: str
    healthy: bool
    checks_planned: int
    checks_run: int
    failures: int
    max_consecutive_failures: int
    reason: str
    results: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class HealthMonitor:
    """Post-deployment monitoring (ADR 0014): `checks` rounds `interval` seconds apart; a round fails when a
    probe or the API (which fault injection and real failures reach) answers non-2xx or not at all. The
    deployment fails as soon as `max_consecutive_failures` rounds in a row failed."""

    url: str
    token: str | None = None
    checks: int = 10
    interval: float = 30.0
    max_consecutive_failures: int = 3
    timeout: float = 5.0
    sleep: Callable[[float], None] = time.sleep

    def paths(self) -> list[str]:
        paths = ["/health/ready"]
        if self.token:
            paths.append("/api/v1/scada/status")
        return paths

    def run(self) -> MonitorReport:
        report = MonitorReport(self.url, True, self.checks, 0, 0, self.max_consecutive_failures, "")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        consecutive = 0
        with httpx.Client(base_url=self.url.rstrip("/"), headers=headers, timeout=self.timeout) as client:
            for n in range(1, self.checks + 1):
                problems = []
                for path in self.paths():
                    try:
                        response = client.get(path)
                        if response.status_code // 100 != 2:
                            problems.append(f"{path}: HTTP {response.status_code}")
                    except httpx.HTTPError as exc:
                        problems.append(f"{path}: {type(exc).__name__}")
                report.checks_run = n
                report.results.append({"check": n, "ok": not problems, "problems": problems})
                if problems:
                    report.failures += 1
                    consecutive += 1
                    if consecutive >= self.max_consecutive_failures:
                        report.healthy = False
                        report.reason = f"{consecutive} consecutive failed checks: {'; '.join(problems)}"
                        return report
                else:
                    consecutive = 0
                if n < self.checks:
                    self.sleep(self.interval)
        report.reason = f"{report.checks_run} checks, {report.failures} failed, never {self.max_consecutive_failures} in a row"
        return report
