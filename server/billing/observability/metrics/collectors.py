"""Gauges and counters read at scrape time from what the process already keeps: its
connection pools and its due-work worker's tallies. Nothing is updated per call for these."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine

from billing.app.due_work import WorkerStats


class PoolCollector(Collector):
    """Per engine ("calls", "due_work"): connections checked out, the pool's size and the
    connections open beyond it. A pool without these counts (none here) is left out."""

    def __init__(self, engines: Mapping[str, AsyncEngine]) -> None:
        self._pools: dict[str, Any] = {n: e.sync_engine.pool for n, e in engines.items()}

    def collect(self) -> Iterable[Any]:
        checked_out = GaugeMetricFamily(
            "billing_db_pool_checked_out",
            "Connections of the pool in use by a transaction now.",
            labels=["pool"],
        )
        size = GaugeMetricFamily(
            "billing_db_pool_size", "Connections the pool keeps open.", labels=["pool"]
        )
        overflow = GaugeMetricFamily(
            "billing_db_pool_overflow",
            "Connections open beyond the pool's size (0 unless max_overflow allows it).",
            labels=["pool"],
        )
        for name, pool in self._pools.items():
            if not all(hasattr(pool, m) for m in ("checkedout", "size", "overflow")):
                continue
            checked_out.add_metric([name], pool.checkedout())
            size.add_metric([name], pool.size())
            overflow.add_metric([name], max(0, pool.overflow()))  # negative: not all opened
        return [checked_out, size, overflow]


class WorkerCollector(Collector):
    """The due-work worker's items by kind and outcome (done, failed, parked): with the
    due queue's depth, a bill run's progress (renewals done per second against renewals
    still due)."""

    def __init__(self, stats: WorkerStats) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Any]:
        items = CounterMetricFamily(
            "billing_due_work_items",
            "Due-work items this process ran, by kind and outcome (done, failed, parked).",
            labels=["kind", "outcome"],
        )
        # Copied first (one C-level step under the GIL): this runs in the render thread
        # while the worker may add a kind.
        for (kind, outcome), count in sorted(dict(self._stats.by_kind).items()):
            items.add_metric([kind, outcome], count)
        return [items]


class RedisCollector(Collector):
    """Redis (ADR 0066): commands that failed, calls that went without Redis (the breaker open
    or a failure), and the hot cache's hits, misses and refused stores. Read from the link's
    and the cache's own counts at scrape time."""

    def __init__(self, link: RedisCounts, cache: CacheCounts) -> None:
        self._link = link
        self._cache = cache

    def collect(self) -> Iterable[Any]:
        failed = CounterMetricFamily(
            "billing_redis_failures", "Redis commands that failed or ran past the timeout."
        )
        failed.add_metric([], self._link.failures)
        bypassed = CounterMetricFamily(
            "billing_redis_bypassed",
            "Redis uses skipped (its breaker open, or the command failed): answered without it.",
        )
        bypassed.add_metric([], self._link.bypassed)
        lookups = CounterMetricFamily(
            "billing_hot_cache_lookups",
            "Hot cache reads by outcome: hit, miss, and refused (a store after a write).",
            labels=["outcome"],
        )
        lookups.add_metric(["hit"], self._cache.hits)
        lookups.add_metric(["miss"], self._cache.misses)
        lookups.add_metric(["refused"], self._cache.refused)
        return [failed, bypassed, lookups]


class RedisCounts(Protocol):
    failures: int
    bypassed: int


class CacheCounts(Protocol):
    hits: int
    misses: int
    refused: int
