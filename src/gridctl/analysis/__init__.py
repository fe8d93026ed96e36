"""Canary analysis with Argo Rollouts semantics, runnable outside a cluster (`gridctl analyze`)."""

from gridctl.analysis.expr import ExprError, evaluate, evaluate_condition, parse
from gridctl.analysis.run import (
    AnalysisRun,
    Measurement,
    MeasurementError,
    MetricResult,
    Phase,
    PrometheusProvider,
    evaluate_result,
)
from gridctl.analysis.template import (
    AnalysisSpec,
    Metric,
    TemplateError,
    build_metrics,
    load_documents,
    parse_duration,
    resolve_args,
    select,
)

__all__ = [
    "AnalysisRun",
    "AnalysisSpec",
    "ExprError",
    "Measurement",
    "MeasurementError",
    "Metric",
    "MetricResult",
    "Phase",
    "PrometheusProvider",
    "TemplateError",
    "build_metrics",
    "evaluate",
    "evaluate_condition",
    "evaluate_result",
    "load_documents",
    "parse",
    "parse_duration",
    "resolve_args",
    "select",
]
