"""Thresholds of the load gate and the verdict on one run's numbers (no Locust here: pure and testable)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Thresholds:
    """What a run must reach. The blueprint's bar is 1,000 requests/s at p95 < 500 ms."""

    min_rps: float = 1000.0
    max_p95_ms: float = 500.0
    max_error_rate: float = 0.01


@dataclass
class LoadReport:
    """One run: totals and, per request name (ingest, status, history, alarms), count, failures and p95."""

    duration_s: float
    users: int
    requests: int
    failures: int
    rps: float
    p95_ms: float
    p50_ms: float
    per_request: dict[str, dict[str, float]] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 1.0

    @property
    def passed(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["error_rate"] = round(self.error_rate, 5)
        out["passed"] = self.passed
        return out


def evaluate(report: LoadReport, thresholds: Thresholds, scenario: tuple[str, ...] = ()) -> LoadReport:
    """Fills report.failed with one line per threshold the run missed; every request kind of the scenario
    must have been exercised (a gate that never called the history endpoint proves nothing about it)."""
    failed = []
    if report.requests == 0:
        failed.append("no request completed")
    if report.rps < thresholds.min_rps:
        failed.append(f"throughput {report.rps:.1f} requests/s < {thresholds.min_rps:g}")
    if report.p95_ms > thresholds.max_p95_ms:
        failed.append(f"p95 {report.p95_ms:.0f} ms > {thresholds.max_p95_ms:g} ms")
    if report.error_rate > thresholds.max_error_rate:
        failed.append(f"error rate {report.error_rate:.2%} > {thresholds.max_error_rate:.2%}")
    for name in scenario:
        if not report.per_request.get(name, {}).get("requests"):
            failed.append(f"request {name!r} never ran")
    report.failed = failed
    return report
