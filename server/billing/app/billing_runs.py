"""Bill runs on demand: the due work of a subscription, a customer or the tenant, run now.

The run has no state of its own: it claims due items like every worker does (leases, SKIP
LOCKED), so it shares the work with other processes and a second call with the same
request_id just continues. It ends when nothing in scope is due any more.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from billing.app.clock import Clock
from billing.app.context import CallContext
from billing.app.due_work import DueWorkWorker
from billing.app.ports import Store
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.names import parse_name

WAIT_FOR_OTHERS_S = 0.2  # when the rest is leased by other workers
RUN_SECONDS_MAX = 3600  # a run that has not finished in an hour is reported, not awaited


@dataclass(frozen=True)
class RunProgress:
    done: int
    remaining: int
    last_item: str
    finished: bool


class BillingRuns:
    def __init__(self, store: Store, worker: DueWorkWorker, wall: Clock) -> None:
        self._store = store
        self._worker = worker
        self._wall = wall

    async def run(
        self, ctx: CallContext, subscription: str, customer: str, tenant: bool
    ) -> AsyncIterator[RunProgress]:
        if sum((bool(subscription), bool(customer), tenant)) != 1:
            raise InvalidArgument.single("scope", "give one of subscription, customer, tenant")
        scope = await self._scope(ctx, subscription, customer)
        done = 0
        deadline = asyncio.get_running_loop().time() + RUN_SECONDS_MAX
        while asyncio.get_running_loop().time() < deadline:
            ran = (
                await self._worker.run_once(ctx.tenant_id, subscription_ids=scope)
                if (scope is None or scope)
                else 0
            )
            done += ran
            async with self._store.read() as tx:
                remaining = await tx.due_work.due_count(ctx.tenant_id, scope, self._wall.now())
            finished = remaining == 0
            yield RunProgress(done, remaining, self._worker.last_item, finished)
            if finished:
                return
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
