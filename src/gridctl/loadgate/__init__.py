"""The load gate: a Locust scenario of what operators and field devices do to GridOS at once (ingest, grid
status, history, alarm reads), run headless for a fixed time with pass/fail thresholds on throughput, p95
latency and error rate (`gridctl loadgate`). Locust is imported only by `run`, in the gridctl process, because
it monkey-patches the standard library with gevent."""

from gridctl.loadgate.thresholds import LoadReport, Thresholds, evaluate

__all__ = ["LoadReport", "Thresholds", "evaluate"]
