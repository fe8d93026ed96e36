"""SLO error budget remaining, from Prometheus (the canary analysis' Prometheus client, not a second one).

Availability SLO over a window: the budget is (1 - SLO) x window, 99.9 % over 30 days = 43.2 minutes. The
error ratio is 5xx over all API requests in the window, from http_requests_total, the same selection as
the SLO recording rules (deploy/monitoring/rules/gridos-slo.rules.yaml) so that a Prometheus without those
rules (a test, a fresh cluster) gives the same answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from gridctl.analysis import MeasurementError, Metric, PrometheusProvider, TemplateError, parse_duration
from gridctl.delivery.errors import DeliveryError

API_SELECTOR = 'route=~"/api/.*"'


@dataclass
class ErrorBudget:
    slo: float
    window: str
    window_minutes: float
    budget_minutes: float
    error_ratio: float
    consumed_minutes: float
    remaining_minutes: float
    remaining_ratio: float
    requests: float
    errors: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class NoTraffic(DeliveryError):
    """No API request in the window: the budget cannot be computed, and we say so rather than pass."""


def window_seconds(window: str) -> float:
    """A Go duration, or whole days as Prometheus writes them ("30d")."""
    days = re.fullmatch(r"(\d+)d", window.strip())
    if days:
        return int(days.group(1)) * 86400.0
    try:
        return parse_duration(window, "--window")
    except TemplateError as exc:
        raise DeliveryError(str(exc).replace("Go durations like", "30d or Go durations like")) from None


def _selector(namespace: str | None, extra: str) -> str:
    parts = [API_SELECTOR]
    if namespace:
        parts.append(f'namespace="{namespace}"')
    if extra:
        parts.append(extra)
    return ", ".join(parts)


def error_budget(
    prometheus: str,
    slo: float = 99.9,
    window: str = "30d",
    namespace: str | None = None,
    selector: str = "",
    provider: PrometheusProvider | None = None,
) -> ErrorBudget:
    if not 0 < slo < 100:
        raise DeliveryError(f"--slo {slo}: expected a percentage between 0 and 100 (e.g. 99.9)")
    seconds = window_seconds(window)
    if seconds <= 0:
        raise DeliveryError("--window must be longer than 0")
    labels = _selector(namespace, selector)
    # Prometheus wants whole units in range selectors: express the window in seconds.
    rng = f"{int(seconds)}s"
    provider = provider or PrometheusProvider()
    total = _scalar(provider, prometheus, f"sum(increase(http_requests_total{{{labels}}}[{rng}]))")
    if total is None or total <= 0:
        raise NoTraffic(f"no API requests in the last {window} at {prometheus}: the error budget is unknown")
    # One query for the ratio, so that numerator and denominator are evaluated at the same instant.
    errors_q = f'sum(increase(http_requests_total{{{labels}, status=~"5.."}}[{rng}]))'
    all_q = f"sum(increase(http_requests_total{{{labels}}}[{rng}]))"
    ratio = _scalar(provider, prometheus, f"({errors_q} or vector(0)) / {all_q}")
    if ratio is None or math.isnan(ratio):
        raise NoTraffic(f"no API requests in the last {window} at {prometheus}: the error budget is unknown")
    errors = ratio * total
    allowed = 1 - slo / 100
    window_minutes = seconds / 60
    budget = allowed * window_minutes
    consumed = ratio * window_minutes
    return ErrorBudget(
        slo=slo,
        window=window,
        window_minutes=round(window_minutes, 3),
        budget_minutes=round(budget, 3),
        error_ratio=ratio,
        consumed_minutes=round(consumed, 3),
        remaining_minutes=round(budget - consumed, 3),
        remaining_ratio=1 - ratio / allowed,
        requests=round(total, 3),
        errors=round(errors, 3),
    )


def _scalar(provider: PrometheusProvider, address: str, query: str) -> float | None:
    metric = Metric(name="error-budget", provider={"prometheus": {"address": address, "query": query}})
    try:
        value = provider.measure(metric)
    except MeasurementError as exc:
        raise DeliveryError(str(exc)) from None
    if isinstance(value, list):
        return value[0] if value else None
    return float(value)
