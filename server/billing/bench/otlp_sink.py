"""An OTLP trace receiver for the bench (ADR 0060): a gRPC TraceService on loopback that
counts the spans it is sent and drops them, so tracing's cost is measured with a real export
going on, as it would to a collector, without one installed."""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc


class _Counting(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self.spans = 0
        self._lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:
        spans = sum(
            len(scope.spans)
            for resource in request.resource_spans
            for scope in resource.scope_spans
        )
        with self._lock:
            self.spans += spans
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpSink:
    def __init__(self) -> None:
        self._service = _Counting()
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self._service, self._server)
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def spans(self) -> int:
        return self._service.spans

    def stop(self) -> None:
        self._server.stop(None)
