"""An AnalysisRun evaluated with Argo Rollouts semantics, outside a cluster.

Mirrors the controller (argo-rollouts analysis/analysis.go): measurements are scheduled by initialDelay
and interval, each measurement is Successful / Failed / Inconclusive / Error from the conditions, a
metric completes on failureLimit / inconclusiveLimit / consecutiveErrorLimit or when its count is reached,
a completed non-dryRun Failed / Error / Inconclusive metric terminates the run, and the run takes the
worst phase of its non-dryRun metrics.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import httpx

from gridctl.analysis.expr import ExprError, evaluate_condition
from gridctl.analysis.template import DEFAULT_ERROR_RETRY_SECONDS, Metric


class Phase(StrEnum):
    pending = "Pending"
    running = "Running"
    successful = "Successful"
    failed = "Failed"
    inconclusive = "Inconclusive"
    error = "Error"

    @property
    def completed(self) -> bool:
        return self in (Phase.successful, Phase.failed, Phase.inconclusive, Phase.error)


# Argo's analysisStatusOrder: a run takes the worst phase of its metrics.
_SEVERITY = {
    Phase.pending: 0,
    Phase.running: 1,
    Phase.successful: 2,
    Phase.inconclusive: 3,
    Phase.error: 4,
    Phase.failed: 5,
}


class MeasurementError(Exception):
    """The provider could not produce a value (query failed, unsupported result type)."""


class Provider(Protocol):
    def measure(self, metric: Metric) -> Any: ...


@dataclass
class PrometheusProvider:
    """Argo's prometheus provider: an instant query; a vector becomes a list of floats, a scalar a float."""

    address_override: str | None = None
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    def measure(self, metric: Metric) -> Any:
        spec = metric.provider.get("prometheus")
        if spec is None:
            kinds = ", ".join(sorted(metric.provider)) or "none"
            raise MeasurementError(f"provider {kinds} is not supported (only prometheus)")
        address = (self.address_override or str(spec.get("address") or "")).rstrip("/")
        query = str(spec.get("query") or "")
        if not address:
            raise MeasurementError("prometheus address is empty")
        if not query:
            raise MeasurementError("prometheus query is empty")
        timeout = float(spec.get("timeout") or 30)
        try:
            response = self.client.get(f"{address}/api/v1/query", params={"query": query}, timeout=timeout)
        except httpx.HTTPError as exc:
            raise MeasurementError(f"prometheus {address}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            raise MeasurementError(f"prometheus answered {response.status_code} without JSON") from None
        if body.get("status") != "success":
            raise MeasurementError(f"prometheus: {body.get('errorType', '')}: {body.get('error', '')}")
        data = body.get("data") or {}
        kind = data.get("resultType")
        if kind == "vector":
            return [float(sample["value"][1]) for sample in data.get("result") or []]
        if kind == "scalar":
            return float(data["result"][1])
        raise MeasurementError(f"prometheus metric type not supported: {kind}")


@dataclass
class Measurement:
    phase: Phase
    started_at: float
    finished_at: float
    value: Any = None
    message: str = ""


@dataclass
class MetricResult:
    metric: Metric
    phase: Phase = Phase.pending
    measurements: list[Measurement] = field(default_factory=list)
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    error: int = 0
    consecutive_error: int = 0
    message: str = ""

    def record(self, m: Measurement) -> None:
        self.measurements.append(m)
        if m.phase is Phase.error:
            # Errors do not count towards `count`, as in Argo: a flaky Prometheus does not end the metric.
            self.error += 1
            self.consecutive_error += 1
            return
        self.count += 1
        self.consecutive_error = 0
        if m.phase is Phase.successful:
            self.successful += 1
        elif m.phase is Phase.failed:
            self.failed += 1
        else:
            self.inconclusive += 1


def evaluate_result(metric: Metric, result: Any) -> Phase:
    """Argo's evaluate.EvaluateResult: the phase of one measurement from its conditions."""
    success = failure = False
    if metric.success_condition:
        success = evaluate_condition(metric.success_condition, result)
    if metric.failure_condition:
        failure = evaluate_condition(metric.failure_condition, result)
    if not metric.success_condition and not metric.failure_condition:
        return Phase.successful
    if metric.success_condition and not metric.failure_condition:
        failure = not success
    elif metric.failure_condition and not metric.success_condition:
        success = not failure
    if failure:
        return Phase.failed
    if not success:
        return Phase.inconclusive
    return Phase.successful


def assess_metric(result: MetricResult, terminating: bool) -> Phase:
    """Argo's assessMetricStatus."""
    if result.phase.completed:
        return result.phase
    metric = result.metric
    if not result.measurements:
        return Phase.successful if terminating else Phase.pending
    if result.failed > metric.failure_limit:
        result.message = f"failed ({result.failed}) > failureLimit ({metric.failure_limit})"
        return Phase.failed
    if result.inconclusive > metric.inconclusive_limit:
        result.message = (
            f"inconclusive ({result.inconclusive}) > inconclusiveLimit ({metric.inconclusive_limit})"
        )
        return Phase.inconclusive
    if result.consecutive_error > metric.consecutive_error_limit:
        result.message = (
            f"consecutiveErrors ({result.consecutive_error}) > consecutiveErrorLimit "
            f"({metric.consecutive_error_limit})"
        )
        return Phase.error
    count = metric.effective_count
    if count is not None and result.count >= count:
        result.message = f"count ({count}) reached"
        return Phase.successful
    if terminating:
        result.message = "run terminated"
        return Phase.successful
    return Phase.running


@dataclass
class AnalysisRun:
    metrics: list[Metric]
    provider: Provider
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    on_measurement: Callable[[MetricResult, Measurement], None] | None = None
    results: list[MetricResult] = field(init=False)
    phase: Phase = field(init=False, default=Phase.pending)
    started_at: float = field(init=False, default=0.0)
    finished_at: float = field(init=False, default=0.0)
    message: str = field(init=False, default="")

    def __post_init__(self) -> None:
        self.results = [MetricResult(m) for m in self.metrics]

    def _terminating(self, stopped: bool) -> bool:
        return stopped or any(
            r.phase in (Phase.failed, Phase.error, Phase.inconclusive) and not r.metric.dry_run
            for r in self.results
        )

    def _due_at(self, r: MetricResult) -> float | None:
        """When this metric's next measurement is due, or None if it takes no more measurements."""
        if r.phase.completed:
            return None
        if not r.measurements:
            return self.started_at + r.metric.initial_delay
        count = r.metric.effective_count
        if count is not None and r.count >= count:
            return None
        last = r.measurements[-1]
        interval = r.metric.interval
        if interval is None:
            if last.phase is not Phase.error:
                return None
            interval = DEFAULT_ERROR_RETRY_SECONDS
        return last.finished_at + interval

    def _measure(self, r: MetricResult) -> None:
        started = self.clock()
        try:
            value = self.provider.measure(r.metric)
            phase, message = evaluate_result(r.metric, value), ""
        except (MeasurementError, ExprError) as exc:
            value, phase, message = None, Phase.error, str(exc)
        measurement = Measurement(phase, started, self.clock(), value, message)
        r.record(measurement)
        if self.on_measurement:
            self.on_measurement(r, measurement)

    def _assess(self, stopped: bool) -> Phase:
        terminating = self._terminating(stopped)
        for r in self.results:
            r.phase = assess_metric(r, terminating)
        # A metric that completes badly terminates the run: the others stop where they are.
        terminating = self._terminating(stopped)
        if terminating:
            for r in self.results:
                r.phase = assess_metric(r, True)
        counted = [r for r in self.results if not r.metric.dry_run]
        if not all(r.phase.completed for r in self.results):
            return Phase.running
        if not counted:
            return Phase.successful
        worst = max(counted, key=lambda r: _SEVERITY[r.phase])
        self.message = f"metric {worst.metric.name!r}: {worst.message}" if worst.message else ""
        return worst.phase

    def run(self, timeout: float | None = None) -> Phase:
        """Measure until the run completes. `timeout` ends a run whose metrics would go on forever the way
        a Rollout ends background analysis: metrics still running are assessed Successful."""
        self.started_at = self.clock()
        deadline = None if timeout is None else self.started_at + timeout
        self.phase = Phase.running
        while True:
            now = self.clock()
            stopped = deadline is not None and now >= deadline
            if not self._terminating(stopped):
                for r in self.results:
                    due = self._due_at(r)
                    if due is not None and due <= now:
                        self._measure(r)
            self.phase = self._assess(stopped)
            if self.phase.completed:
                self.finished_at = self.clock()
                return self.phase
            dues = [d for d in (self._due_at(r) for r in self.results) if d is not None]
            if not dues and deadline is None:
                # Nothing is scheduled and nothing can finish the run: a spec Argo would also never end.
                self.phase = Phase.error
                self.message = "no measurement is scheduled and the run cannot complete"
                self.finished_at = self.clock()
                return self.phase
            wake = min([*dues, *([deadline] if deadline is not None else [])])
            self.sleep(max(0.0, wake - self.clock()))


def describe_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(describe_value(v) for v in value) + "]"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    return "" if value is None else str(value)
