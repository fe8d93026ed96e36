"""OpenTelemetry traces for GridOS: one server span per request, named by route template, exported over OTLP/HTTP.

Off by default: without an endpoint nothing is instrumented and nothing is exported. The endpoint comes from
`GRIDOS_OTEL_EXPORTER_OTLP_ENDPOINT`, else the standard `OTEL_EXPORTER_OTLP_ENDPOINT` (a collector base URL
such as http://otel-collector:4318; `/v1/traces` is appended). The other standard OTEL_* variables
(OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, ...) keep their usual meaning.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from fastapi import FastAPI
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from gridos import __version__

log = logging.getLogger("gridos.tracing")
# Probes and scrapes would drown the traces that matter.
EXCLUDED_URLS = "/health,/metrics"


def otlp_traces_endpoint(environ: dict[str, str] | None = None) -> str | None:
    env = os.environ if environ is None else environ
    base = (
        env.get("GRIDOS_OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or ""
    ).strip()
    if not base:
        return None
    base = base.rstrip("/")
    return base if base.endswith("/v1/traces") else f"{base}/v1/traces"


def setup_tracing(
    app: FastAPI,
    settings: Any,
    shutdown_hooks: list[Any] | None = None,
    environ: dict[str, str] | None = None,
) -> TracerProvider | None:
    """Instrument `app` when an OTLP endpoint is configured; return the provider (None when tracing is off).

    The provider is local to this app (not the global one), so several apps in one process stay apart,
    and it is flushed and shut down with the app."""
    endpoint = otlp_traces_endpoint(environ)
    if endpoint is None:
        return None
    resource = Resource.create(
        {
            "service.name": "gridos",
            "service.version": __version__,
            "service.instance.id": f"{os.uname().nodename}:{os.getpid()}",
            "vcs.revision": str(getattr(settings, "build_revision", "unknown")),
        }
    )
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider, excluded_urls=EXCLUDED_URLS)

    async def _shutdown(_: FastAPI) -> None:
        provider.shutdown()

    if shutdown_hooks is not None:
        shutdown_hooks.append(_shutdown)
    log.info("tracing enabled", extra={"otlp_endpoint": endpoint})
    return provider
