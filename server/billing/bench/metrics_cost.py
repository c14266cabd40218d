"""What the metrics cost (ADR 0061): the RED wrapper per call, and rendering one scrape.

    python -m billing.bench.metrics_cost

CPU per call of a method wrapped by RpcMetrics, against the same method bare (both awaited
on one event loop, so the difference is the wrapper: two clock reads, a histogram observe
and a counter add); and the time to render /metrics with every method of the API called.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from billing.api.server import service_names
from billing.observability.metrics.rpc import RpcMetrics

CALLS = 200_000
ROUNDS = 5


class _Context:
    def code(self) -> None:
        return None


async def _method(request: Any, context: Any) -> Any:
    return request


async def _per_call_us(behavior: Any) -> float:
    context = _Context()
    best = float("inf")
    for _ in range(ROUNDS):
        start = time.perf_counter()
        for _ in range(CALLS):
            await behavior(None, context)
        best = min(best, (time.perf_counter() - start) / CALLS * 1e6)
    return best


def _render_ms(methods: list[str]) -> tuple[float, int]:
    registry = CollectorRegistry()
    rpc = RpcMetrics(registry)
    for method in methods:
        for code in ("OK", "INVALID_ARGUMENT", "NOT_FOUND"):
            rpc.handled.labels(method, code).inc()
        rpc.duration.labels(method).observe(0.002)
    best, size = float("inf"), 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        size = len(generate_latest(registry))
        best = min(best, (time.perf_counter() - start) * 1000)
    return best, size


def main() -> int:
    metrics = RpcMetrics(CollectorRegistry())
    bare = asyncio.run(_per_call_us(_method))
    wrapped = asyncio.run(_per_call_us(metrics.wrap("/billing.v1.X/Y", _method)))
    print(
        f"bare call {bare:.2f} us, with RED metrics {wrapped:.2f} us:"
        f" {wrapped - bare:.2f} us per call"
    )
    methods = [f"{service}/M{i}" for service in service_names() for i in range(8)]
    ms, size = _render_ms(methods)
    print(f"rendering /metrics for {len(methods)} methods x 3 codes: {ms:.1f} ms, {size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
