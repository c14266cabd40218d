"""OpenTelemetry set-up: a batch span processor (export never blocks a request) and a
parent-based ratio sampler, so the sample ratio bounds tracing cost under load."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

from billing import __version__


def configure_tracing(sample_ratio: float, exporter: str) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "billing", "service.version": __version__}),
        sampler=ParentBased(TraceIdRatioBased(sample_ratio)),
    )
    span_exporter: SpanExporter | None = ConsoleSpanExporter() if exporter == "console" else None
    if span_exporter is not None:
        provider.add_span_processor(BatchSpanProcessor(span_exporter, max_queue_size=8192))
    return provider


def get_tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("billing.api")
