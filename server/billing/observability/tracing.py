"""OpenTelemetry set-up (ADR 0060): a batch span processor, so an export never runs on a
call's path, and a parent-based ratio sampler, so the ratio bounds tracing's cost under load
while a caller's sampled trace is always continued.

The exporter is the console (development) or OTLP over gRPC or HTTP (New Relic, Grafana
Tempo, Jaeger, any collector). An export that fails is logged by the SDK on the processor's
thread and its spans dropped; the queue is bounded, so a dead collector costs memory up to
`QUEUE_SPANS_MAX` and never a request.
"""

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
from billing.config import Settings

QUEUE_SPANS_MAX = 8192  # a call makes ~10 spans: ~800 traced calls of backlog, then dropped
EXPORT_BATCH_SPANS = 512  # the SDK's default; one OTLP request each
EXPORT_DELAY_MS = 1000  # a batch leaves at least this often


def configure_tracing(settings: Settings) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({"service.name": "billing", "service.version": __version__}),
        sampler=ParentBased(TraceIdRatioBased(settings.trace_sample_ratio)),
    )
    exporter = span_exporter(settings)
    if exporter is not None:
        provider.add_span_processor(
            BatchSpanProcessor(
                exporter,
                max_queue_size=QUEUE_SPANS_MAX,
                max_export_batch_size=EXPORT_BATCH_SPANS,
                schedule_delay_millis=EXPORT_DELAY_MS,
                export_timeout_millis=int(settings.otlp_timeout_seconds * 1000),
            )
        )
    return provider


def span_exporter(settings: Settings) -> SpanExporter | None:
    if settings.trace_exporter == "console":
        return ConsoleSpanExporter()
    if settings.trace_exporter != "otlp":
        return None
    endpoint = settings.otlp_endpoint or None  # None: the exporter reads OTEL_EXPORTER_OTLP_*
    headers = otlp_headers(settings.otlp_headers) or None
    timeout = settings.otlp_timeout_seconds
    if settings.otlp_protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpExporter,
        )

        return HttpExporter(endpoint=endpoint, headers=headers, timeout=timeout)
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
        OTLPSpanExporter as GrpcExporter,
    )

    # An http:// endpoint is a plaintext channel, https:// TLS (the exporter reads the scheme).
    return GrpcExporter(endpoint=endpoint, headers=headers, timeout=timeout)


def otlp_headers(text: str) -> dict[str, str]:
    """`key=value,key2=value2` (OTEL_EXPORTER_OTLP_HEADERS' form); keys lower-cased, as gRPC
    metadata requires."""
    pairs = (p.split("=", 1) for p in text.split(",") if p.strip())
    return {key.strip().lower(): value.strip() for key, value in pairs}


def get_tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("billing.api")
