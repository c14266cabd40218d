"""Prometheus metrics of one server process (ADR 0061), on a port of its own.

Each process has its own registry and endpoint (BILLING_METRICS_LISTEN; with several
workers, worker i listens on the port + i), so nothing is shared between processes and
every series is this process's own; Prometheus adds processes up with sum().
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.due_work import WorkerStats
from billing.observability.metrics.backlog import BacklogCollector
from billing.observability.metrics.business import BusinessMetrics
from billing.observability.metrics.collectors import PoolCollector, WorkerCollector
from billing.observability.metrics.endpoint import MetricsEndpoint, split_host_port
from billing.observability.metrics.rpc import RpcMetrics

# No `_created` series beside every counter: they double the output and no query here reads
# them (rate() copes with restarts on its own).
disable_created_metrics()  # type: ignore[no-untyped-call]

__all__ = ["BillingMetrics", "RpcMetrics", "split_host_port", "worker_listen"]


class BillingMetrics:
    def __init__(
        self,
        engines: Mapping[str, AsyncEngine],
        backlog_engine: AsyncEngine,
        worker: WorkerStats,
        wall_now: Callable[[], datetime],
    ) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # CPU, memory, open files of this process
        self.rpc = RpcMetrics(self.registry)
        self.business = BusinessMetrics(self.registry)
        self.backlog = BacklogCollector(backlog_engine, wall_now)
        self.registry.register(self.backlog)
        self.registry.register(PoolCollector(engines))
        self.registry.register(WorkerCollector(worker))
        self._endpoint = MetricsEndpoint(self.render)

    async def render(self) -> tuple[bytes, str]:
        await self.backlog.refresh()
        # Rendered off the loop: with every method called it is tens of milliseconds of pure
        # Python, which in a thread the calls interleave with (the GIL switches every 5 ms)
        # instead of waiting behind. The 0.0.4 text format: what every Prometheus 2.x reads
        # (the names here are all legacy-valid, so the newer format is the same bytes).
        body = await asyncio.to_thread(generate_latest, self.registry)
        return body, CONTENT_TYPE_PLAIN_0_0_4

    async def start(self, listen: str) -> int:
        """Serve /metrics on `listen` (host:port, port 0 for any); returns the bound port."""
        return await self._endpoint.start(listen)

    async def stop(self) -> None:
        await self._endpoint.stop()


def worker_listen(listen: str, worker: int) -> str:
    """Worker i of several serves its metrics on the configured port + i (port 0 stays 0:
    each picks a free one)."""
    if not listen:
        return listen
    host, port = split_host_port(listen)
    if port == 0:
        return listen
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port + worker}"
