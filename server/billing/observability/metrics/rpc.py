"""RED per RPC: calls by method and final gRPC status code, latency by method.

Wrapped around each method's handler by the edge interceptor, outermost, so the latency is
the whole call (auth, checks, the method) and the code is the one the caller sees. Label
values come from the methods registered on the server (unknown methods are answered by gRPC
before any handler), so the label space is bounded by the API itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from time import perf_counter
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram

Behavior = Callable[[Any, grpc.aio.ServicerContext], Awaitable[Any]]
StreamBehavior = Callable[[Any, grpc.aio.ServicerContext], AsyncIterator[Any]]

# Seconds. Most calls take a millisecond or a few (one round trip to the database, a commit);
# the tail up to 10 s covers lock waits and timeouts; streams (bill runs, usage streams) run
# longer and land in the last buckets or +Inf, which is why they get their own panel.
LATENCY_BUCKETS_S = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class RpcMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.handled = Counter(
            "billing_rpc_handled",
            "RPCs completed, by method and the gRPC status code returned to the caller.",
            ["method", "code"],
            registry=registry,
        )
        self.duration = Histogram(
            "billing_rpc_duration_seconds",
            "RPC latency as the server sees it (first byte in to status out), by method.",
            ["method"],
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )

    def _recorder(self, method: str) -> Callable[[float, str], None]:
        """The children of one method, looked up once: a call then pays two locked adds."""
        name = method.lstrip("/")
        observe = self.duration.labels(name).observe
        counters: dict[str, Callable[[], None]] = {}

        def record(seconds: float, code: str) -> None:
            observe(seconds)
            inc = counters.get(code)
            if inc is None:
                inc = counters[code] = self.handled.labels(name, code).inc
            inc()

        return record

    def wrap(self, method: str, behavior: Behavior) -> Behavior:
        """A unary or client-streaming method."""
        record = self._recorder(method)

        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            start = perf_counter()
            code = "UNKNOWN"
            try:
                result = await behavior(request, context)
                code = "OK"
                return result
            except grpc.aio.AbortError:
                code = _aborted_code(context)
                raise
            except asyncio.CancelledError:
                code = "CANCELLED"
                raise
            finally:
                record(perf_counter() - start, code)

        return measured

    def wrap_stream(self, method: str, behavior: StreamBehavior) -> StreamBehavior:
        """A server-streaming method: timed to its last message."""
        record = self._recorder(method)

        async def measured(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            start = perf_counter()
            code = "UNKNOWN"
            try:
                async for message in behavior(request, context):
                    yield message
                code = "OK"
            except grpc.aio.AbortError:
                code = _aborted_code(context)
                raise
            except (asyncio.CancelledError, GeneratorExit):
                code = "CANCELLED"  # the caller went away mid-stream
                raise
            finally:
                record(perf_counter() - start, code)

        return measured


def _aborted_code(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return "UNKNOWN"
