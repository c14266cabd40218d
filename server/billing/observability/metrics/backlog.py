"""What is waiting in the database, read at scrape time: due work by kind (how many are due,
the oldest's age, how many are parked) and the outbox relay's lag.

Bounded cost, whatever the backlog: each query walks an index from its oldest row and stops
at a cap (a due queue deeper than DUE_COUNTED_MAX reads as that many), runs under a short
statement timeout, and at most once per REFRESH_MIN_S however many scrapers ask (every
process answers for the whole database, so dashboards take max() over processes, not sum).

Tenants: no tenant label (their number is unbounded). Items of a simulation clock are left
out of the queue: their due times are on that clock's timeline, not the wall's, and they run
when the clock is advanced, so they are neither late nor stuck.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from time import monotonic
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from ulid import ULID

from billing.store.schema import due_work, outbox_events

log = logging.getLogger("billing.metrics")

REFRESH_MIN_S = 5.0  # scrapes closer together than this share one read
STATEMENT_TIMEOUT_MS = 2000  # a scrape never waits long on a busy database
DUE_COUNTED_MAX = 100_000  # due items counted (the oldest first); deeper reads as this
PARKED_COUNTED_MAX = 10_000
OUTBOX_SAMPLED_ROWS = 100  # unrelayed events looked at, oldest first by occurred_at

d, o = due_work, outbox_events


@dataclass
class Backlog:
    due: dict[str, tuple[int, datetime]] = field(default_factory=dict)  # kind: count, oldest
    parked: dict[str, int] = field(default_factory=dict)
    oldest_unrelayed: datetime | None = None  # wall time its row was written


def _due_statement(now: datetime) -> Any:
    oldest = (
        select(d.c.kind, d.c.due_at)
        .where(
            d.c.done_at.is_(None),
            d.c.parked_at.is_(None),
            d.c.clock_id.is_(None),
            d.c.due_at <= now,
        )
        .order_by(d.c.due_at)
        .limit(DUE_COUNTED_MAX)
        .subquery()
    )
    return select(oldest.c.kind, func.count(), func.min(oldest.c.due_at)).group_by(oldest.c.kind)


def _parked_statement() -> Any:
    parked = (
        select(d.c.kind)
        .where(d.c.parked_at.is_not(None), d.c.done_at.is_(None))
        .limit(PARKED_COUNTED_MAX)
        .subquery()
    )
    return select(parked.c.kind, func.count()).group_by(parked.c.kind)


# The index on (published_at, occurred_at) gives the oldest unrelayed rows first. Their age is
# read from their ids (ULIDs carry the wall time they were made): occurred_at may be on a
# simulation clock's timeline.
_UNRELAYED = (
    select(o.c.id)
    .where(o.c.published_at.is_(None))
    .order_by(o.c.occurred_at)
    .limit(OUTBOX_SAMPLED_ROWS)
)


def id_time(event_id: str) -> datetime | None:
    try:
        return ULID.from_str(event_id.rpartition("_")[2]).datetime
    except ValueError:
        return None


class BacklogCollector(Collector):
    def __init__(self, engine: AsyncEngine, now: Callable[[], datetime]) -> None:
        self._engine = engine
        self._now = now
        self._backlog = Backlog()
        self._read_at = float("-inf")
        self._lock = asyncio.Lock()
        self.errors = 0

    async def refresh(self, *, force: bool = False) -> None:
        """Read the backlog again, unless it was read less than REFRESH_MIN_S ago. A failed
        read keeps the last values (and counts an error)."""
        async with self._lock:
            if not force and monotonic() - self._read_at < REFRESH_MIN_S:
                return
            try:
                self._backlog = await self._read(self._now())
            except Exception:
                self.errors += 1
                log.warning("reading the due-work and outbox backlog failed", exc_info=True)
            self._read_at = monotonic()

    async def _read(self, now: datetime) -> Backlog:
        async with self._engine.connect() as conn, conn.begin():
            if conn.dialect.name == "postgresql":
                await conn.execute(text(f"SET LOCAL statement_timeout = {STATEMENT_TIMEOUT_MS}"))
            return await _backlog(conn, now)

    def collect(self) -> Iterable[Any]:
        now, backlog = self._now(), self._backlog
        due = GaugeMetricFamily(
            "billing_due_work_due_items",
            "Due-work items due now and not done, by kind (wall-clock items; capped).",
            labels=["kind"],
        )
        age = GaugeMetricFamily(
            "billing_due_work_oldest_age_seconds",
            "How long the oldest due item of each kind has been due.",
            labels=["kind"],
        )
        parked = GaugeMetricFamily(
            "billing_due_work_parked_items",
            "Due-work items parked after their last attempt, waiting for an operator.",
            labels=["kind"],
        )
        for kind, (count, oldest) in sorted(backlog.due.items()):
            due.add_metric([kind], count)
            age.add_metric([kind], max(0.0, (now - oldest).total_seconds()))
        for kind, count in sorted(backlog.parked.items()):
            parked.add_metric([kind], count)
        lag = GaugeMetricFamily(
            "billing_outbox_relay_lag_seconds",
            "Age of the oldest outbox event not yet relayed (0 when none waits).",
        )
        oldest_event = backlog.oldest_unrelayed
        lag.add_metric(
            [], 0.0 if oldest_event is None else max(0.0, (now - oldest_event).total_seconds())
        )
        errors = CounterMetricFamily(
            "billing_metrics_backlog_read_errors",
            "Failed reads of the due-work and outbox backlog (the gauges keep their last values).",
        )
        errors.add_metric([], self.errors)
        return [due, age, parked, lag, errors]


async def _backlog(conn: AsyncConnection, now: datetime) -> Backlog:
    backlog = Backlog()
    for kind, count, oldest in await conn.execute(_due_statement(now)):
        backlog.due[kind] = (int(count), oldest)
    for kind, count in await conn.execute(_parked_statement()):
        backlog.parked[kind] = int(count)
    times = [t for (event_id,) in await conn.execute(_UNRELAYED) if (t := id_time(event_id))]
    backlog.oldest_unrelayed = min(times) if times else None
    return backlog
