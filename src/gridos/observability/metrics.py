"""Prometheus metrics. The names are a contract (docs/contract.md): canary analysis and alerts query them.

Each app gets its own registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics_core import Metric

# Fine steps around 250 ms so that a p95 gate at 250 ms is resolved by histogram_quantile.
HTTP_BUCKETS = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.25,
    0.3,
    0.4,
    0.5,
    0.75,
    1.0,
    2.5,
    5.0,
    10.0,
)


class Metrics:
    def __init__(self, version: str, revision: str) -> None:
        self.registry = r = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route template",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.samples_ingested = Counter(
            "gridos_samples_ingested", "Samples newly committed", ["source"], registry=r
        )
        self.samples_duplicate = Counter(
            "gridos_samples_duplicate", "Samples received again and not stored twice", ["source"], registry=r
        )
        self.ingest_rejected = Counter(
            "gridos_ingest_rejected", "Ingest requests rejected", ["reason"], registry=r
        )
        self.ingest_batch_size = Histogram(
            "gridos_ingest_batch_size",
            "Samples per committed batch",
            buckets=(1, 10, 50, 100, 500, 1000, 5000, 10000, 50000),
            registry=r,
        )
        self.ingest_duration = Histogram(
            "gridos_ingest_duration_seconds",
            "Time to commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.db_up = Gauge(
            "gridos_db_up", "1 when the database answers and the schema is current", registry=r
        )
        self.db_pool_size = Gauge("gridos_db_pool_size", "Connection pool size", registry=r)
        self.db_pool_checked_out = Gauge("gridos_db_pool_checked_out", "Connections in use", registry=r)
        self.db_pool_overflow = Gauge(
            "gridos_db_pool_overflow", "Connections beyond the pool size", registry=r
        )
        self.devices = Gauge(
            "gridos_devices", "Registered devices by site and state", ["site", "state"], registry=r
        )
        self.site_measurement = Gauge(
            "gridos_site_measurement",
            "Envelope of devices' latest values per site (voltage in per-unit of nominal, frequency in Hz)",
            ["site", "measurement", "stat"],
            registry=r,
        )
        self.build_info = Gauge(
            "gridos_build_info", "Build of this process", ["version", "revision"], registry=r
        )
        self.build_info.labels(version=version, revision=revision).set(1)
        # Alarm and connector metrics are declared here so every consumer finds them in one place.
        self.active_alarms = Gauge(
            "gridos_active_alarms", "Alarms not in normal state", ["priority", "state"], registry=r
        )
        self.alarm_transitions = Counter(
            "gridos_alarm_transitions", "Alarm state transitions", ["to_state"], registry=r
        )
        self.alarm_latency = Histogram(
            "gridos_alarm_latency_seconds",
            "Sample received to alarm transition committed",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.alarm_flood = Gauge("gridos_alarm_flood", "1 while an alarm flood is in progress", registry=r)
        self.alarm_chattering = Gauge("gridos_alarm_chattering", "Alarms flagged as chattering", registry=r)
        self.alarm_outbox_pending = Gauge(
            "gridos_alarm_outbox_pending", "Alarm notifications not yet delivered to a sink", registry=r
        )
        self.alarm_notifications = Counter(
            "gridos_alarm_notifications", "Webhook delivery attempts by result", ["result"], registry=r
        )
        self.alarm_errors = Counter(
            "gridos_alarm_evaluation_errors", "Alarm evaluations that failed on the ingest path", registry=r
        )
        self.connector_up = Gauge(
            "gridos_connector_up", "1 when a field connector is connected", ["protocol"], registry=r
        )
        self.connector_messages = Counter(
            "gridos_connector_messages", "Messages or polls handled by a connector", ["protocol"], registry=r
        )
        self.connector_errors = Counter(
            "gridos_connector_errors",
            "Connector errors (malformed messages, failed polls)",
            ["protocol"],
            registry=r,
        )
        self.connector_dead_letters = Counter(
            "gridos_connector_dead_letters",
            "Malformed messages republished to the dead-letter topic",
            ["protocol"],
            registry=r,
        )
        self.connector_polls = Counter(
            "gridos_connector_polls",
            "Device polls by result (ok, failed)",
            ["protocol", "result"],
            registry=r,
        )
        self.connector_leader = Gauge(
            "gridos_connector_leader",
            "1 on the replica that polls (holds the polling lock); 0 on standbys",
            ["protocol"],
            registry=r,
        )
        self.connector_devices = Gauge(
            "gridos_connector_devices",
            "Polled field devices by communication state (ok, failed)",
            ["protocol", "state"],
            registry=r,
        )

    def without_sites(self) -> _WithoutLabel:
        """The registry minus every sample labelled with a site: what an anonymous scrape gets."""
        return _WithoutLabel(self.registry, "site")


class _WithoutLabel:
    """A read-only view of a registry for generate_latest(), leaving out metrics that carry `label`."""

    def __init__(self, registry: CollectorRegistry, label: str) -> None:
        self.registry = registry
        self.label = label

    def collect(self) -> Iterator[Metric]:
        for metric in self.registry.collect():
            if not any(self.label in sample.labels for sample in metric.samples):
                yield metric
                continue
            # The family stays declared (# HELP/# TYPE: the set of metric names does not depend on who
            # asks, which gridctl's manifest checks rely on); only its labelled samples are left out.
            kept = Metric(metric.name, metric.documentation, metric.type, metric.unit)
            kept.samples = [s for s in metric.samples if self.label not in s.labels]
            yield kept
