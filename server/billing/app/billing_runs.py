"""Bill runs on demand: the due work of a subscription, a customer or the tenant, run now.

The run has no state of its own: it claims due items like every worker does (leases, SKIP
LOCKED), so it shares the work with other processes and a second call with the same
request_id just continues. It ends when nothing in scope is due any more but parked items
(reported, never awaited: ADR 0021), or raises DeadlineExceeded at its deadline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from billing.app.clock import Clock
from billing.app.context import CallContext
from billing.app.due_work import DueWorkWorker, RoundReport
from billing.app.ports import ParkedItem, Store
from billing.app.run_deadline import CALL_MAX_S, RunDeadline
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.names import parse_name

WAIT_FOR_OTHERS_S = 0.2  # when the rest is leased by other workers, or backing off
PARKED_LISTED_MAX = 100  # parked items named in a progress message (all are counted)


@dataclass(frozen=True)
class RunProgress:
    done: int
    remaining: int
    last_item: str
    finished: bool
    parked: int = 0
    parked_items: tuple[ParkedItem, ...] = ()


class BillingRuns:
    def __init__(
        self, store: Store, worker: DueWorkWorker, wall: Clock, max_s: float = CALL_MAX_S
    ) -> None:
        self._store = store
        self._worker = worker
        self._wall = wall
        self._max_s = max_s

    async def run(
        self,
        ctx: CallContext,
        subscription: str,
        customer: str,
        tenant: bool,
        deadline_s: float | None = None,
    ) -> AsyncIterator[RunProgress]:
        """`deadline_s`: the caller's time left, if it set a deadline."""
        if sum((bool(subscription), bool(customer), tenant)) != 1:
            raise InvalidArgument.single("scope", "give one of subscription, customer, tenant")
        scope = await self._scope(ctx, subscription, customer)
        deadline = RunDeadline(deadline_s, self._max_s)
        report = RoundReport()  # this call's items only: never another tenant's
        first_remaining: int | None = None
        self._worker.notify()
        while True:
            ran = (
                await self._worker.run_once(ctx.tenant_id, subscription_ids=scope, report=report)
                if (scope is None or scope)
                else 0
            )
            async with self._store.read() as tx:
                remaining = await tx.due_work.due_count(ctx.tenant_id, scope, self._wall.now())
                parked, parked_items = await tx.due_work.parked(
                    ctx.tenant_id, subscription_ids=scope, limit=PARKED_LISTED_MAX
                )
            finished = remaining == 0
            done = report.done
            if not self._worker.runs_rounds:
                # Run for it by the due-work processes (ADR 0067): what was due at its start
                # and no longer is.
                first_remaining = remaining if first_remaining is None else first_remaining
                done = max(0, first_remaining - remaining)
            yield RunProgress(
                done, remaining, report.last_item, finished, parked, tuple(parked_items)
            )
            if finished:
                return
            if deadline.passed():
                raise deadline.exceeded("RunBilling", remaining, parked)
            if not ran:
                await asyncio.sleep(WAIT_FOR_OTHERS_S)

    async def _scope(self, ctx: CallContext, subscription: str, customer: str) -> list[str] | None:
        if subscription:
            subscription_id = parse_name(subscription, "subscriptions", "subscription")
            async with self._store.read() as tx:
                if await tx.subscriptions.get(ctx.tenant_id, subscription_id) is None:
                    raise NotFound(subscription)
            return [subscription_id]
        if customer:
            customer_id = parse_name(customer, "customers", "customer")
            async with self._store.read() as tx:
                if await tx.customers.get(ctx.tenant_id, customer_id) is None:
                    raise NotFound(customer)
                subs = await tx.subscriptions.list_after(ctx.tenant_id, customer_id, None, 1000)
            return [s.id for s in subs]
        return None  # the whole tenant
