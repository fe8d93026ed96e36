"""Argo Rollouts AnalysisRun semantics, driven by a scripted provider and a clock that only moves when the run
sleeps: failureLimit, inconclusiveLimit, consecutiveErrorLimit, count, interval, initialDelay, dryRun."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from gridctl.analysis import AnalysisRun, MeasurementError, Metric, Phase
from gridctl.analysis.run import evaluate_result

ERROR = object()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class Scripted:
    """Returns the next scripted value per metric; ERROR raises like a failing Prometheus query."""

    def __init__(self, clock: Clock, **scripts: Iterable[Any]) -> None:
        self.clock = clock
        self.scripts = {name: iter(values) for name, values in scripts.items()}
        self.times: dict[str, list[float]] = {name: [] for name in scripts}

    def measure(self, metric: Metric) -> Any:
        self.times[metric.name].append(self.clock.now - 1000.0)
        value = next(self.scripts[metric.name])
        if value is ERROR:
            raise MeasurementError("connection refused")
        return [value]


def metric(name: str = "m", **kw: Any) -> Metric:
    kw.setdefault("success_condition", "result[0] < 1")
    return Metric(name=name, provider={"prometheus": {}}, **kw)


def run(
    metrics: list[Metric], timeout: float | None = None, **scripts: Iterable[Any]
) -> tuple[AnalysisRun, Scripted]:
    clock = Clock()
    provider = Scripted(clock, **scripts)
    analysis = AnalysisRun(metrics, provider, clock=clock, sleep=clock.sleep)
    analysis.run(timeout=timeout)
    return analysis, provider


def test_count_and_interval_schedule_measurements() -> None:
    analysis, provider = run([metric(interval=30, count=3, initial_delay=10)], m=[0, 0, 0])
    assert analysis.phase is Phase.successful
    assert provider.times["m"] == [10, 40, 70]


def test_first_failure_fails_with_default_failure_limit_zero() -> None:
    analysis, provider = run([metric(interval=10, count=5)], m=[0, 5, 0, 0, 0])
    assert analysis.phase is Phase.failed
    assert len(provider.times["m"]) == 2  # the run ends at the failing measurement


def test_failure_limit_tolerates_that_many_failures() -> None:
    analysis, _ = run([metric(interval=10, count=5, failure_limit=2)], m=[5, 0, 5, 0, 0])
    assert analysis.phase is Phase.successful
    analysis, provider = run([metric(interval=10, count=5, failure_limit=2)], m=[5, 5, 5, 0, 0])
    assert analysis.phase is Phase.failed
    assert len(provider.times["m"]) == 3


def test_inconclusive_when_neither_condition_holds() -> None:
    m = metric(interval=10, count=3, success_condition="result[0] < 1", failure_condition="result[0] > 2")
    analysis, _ = run([m], m=[0, 1.5, 0])
    assert analysis.phase is Phase.inconclusive
    m.inconclusive_limit = 1
    analysis, _ = run([m], m=[0, 1.5, 0])
    assert analysis.phase is Phase.successful


@pytest.mark.parametrize(
    ("success", "failure", "value", "phase"),
    [
        ("", "", 5, Phase.successful),
        ("result[0] < 1", "", 5, Phase.failed),
        ("", "result[0] > 2", 1, Phase.successful),
        ("", "result[0] > 2", 3, Phase.failed),
        ("result[0] < 1", "result[0] > 2", 1.5, Phase.inconclusive),
        ("result[0] < 10", "result[0] > 2", 3, Phase.failed),  # failure wins when both hold
    ],
)
def test_measurement_phase_from_conditions(success: str, failure: str, value: float, phase: Phase) -> None:
    m = Metric(name="m", provider={}, success_condition=success, failure_condition=failure)
    assert evaluate_result(m, [value]) is phase


def test_errors_do_not_count_and_consecutive_error_limit_ends_in_error() -> None:
    analysis, provider = run([metric(interval=10, count=2)], m=[ERROR] * 5)
    assert analysis.phase is Phase.error  # 5 consecutive errors > default limit 4
    assert len(provider.times["m"]) == 5
    analysis, _ = run([metric(interval=10, count=2)], m=[ERROR, ERROR, 0, ERROR, 0])
    assert analysis.phase is Phase.successful  # a good measurement resets the streak; errors are not counted
    analysis, _ = run([metric(interval=10, count=2, consecutive_error_limit=0)], m=[ERROR])
    assert analysis.phase is Phase.error


def test_a_failing_condition_is_an_error_not_a_failure() -> None:
    analysis, _ = run([metric(count=1, consecutive_error_limit=0, success_condition="result[5] < 1")], m=[0])
    result = analysis.results[0]
    assert result.measurements[0].phase is Phase.error
    assert "index out of range" in result.measurements[0].message


def test_error_without_interval_is_retried_after_ten_seconds() -> None:
    analysis, provider = run([metric()], m=[ERROR, 0])
    assert analysis.phase is Phase.successful
    assert provider.times["m"] == [0, 10]


def test_dry_run_metric_is_reported_but_does_not_decide() -> None:
    dry = metric("dry", interval=10, count=3, dry_run=True)
    analysis, _ = run([metric("real", interval=10, count=3), dry], real=[0, 0, 0], dry=[5, 5, 5])
    assert analysis.phase is Phase.successful
    assert analysis.results[1].phase is Phase.failed


def test_a_failed_metric_terminates_the_others() -> None:
    slow = metric("slow", interval=10, count=10)
    analysis, provider = run([metric("bad", interval=10, count=3), slow], bad=[5], slow=[0] * 10)
    assert analysis.phase is Phase.failed
    assert analysis.results[1].phase is Phase.successful  # assessed Successful on termination, as Argo does
    assert len(provider.times["slow"]) == 1


def test_endless_metric_ends_at_the_timeout() -> None:
    analysis, provider = run([metric(interval=10)], timeout=35, m=[0] * 10)
    assert analysis.phase is Phase.successful
    assert provider.times["m"] == [0, 10, 20, 30]


def test_worst_phase_wins() -> None:
    analysis, _ = run(
        [metric("err", consecutive_error_limit=0), metric("fail", initial_delay=5)], err=[ERROR], fail=[5]
    )
    # "err" completes first and terminates the run before "fail" is measured.
    assert analysis.phase is Phase.error
    analysis, _ = run([metric("err", consecutive_error_limit=0), metric("fail")], err=[ERROR], fail=[5])
    assert analysis.phase is Phase.failed  # both measured in the same pass: Failed is worse than Error
