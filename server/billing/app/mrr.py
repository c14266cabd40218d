"""MRR kept as subscriptions change (issue 17, ADR 0055): each subscription write calls
`track` in its transaction; reads sum a handful of shard rows, so the current MRR costs the
same at a thousand subscriptions as at a million."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.app.context import CallContext
from billing.app.ids import new_id
from billing.app.ports import Store, Transaction
from billing.domain.errors import InvalidArgument
from billing.domain.mrr import Movement, churn_rate, contribution_minor, movement
from billing.domain.subscriptions import Subscription

MRR_SHARDS = 16  # rows per tenant and currency the total is spread over


def shard_of(subscription_id: str) -> int:
    return zlib.crc32(subscription_id.encode()) % MRR_SHARDS


async def track(
    tx: Transaction,
    tenant_id: str,
    after: Subscription,
    at: datetime,
    before: Subscription | None = None,
    *,
    created: bool = False,
) -> bool:
    """Record the change `after` makes to MRR; True when it made one. With `before` (the
    subscription as read) an unchanged contribution costs nothing: no statement at all, as on
    most renewals. `created`: this transaction made the subscription (a new id), so it has
    no position yet and none is read (a round trip of CreateSubscription's)."""
    new = contribution_minor(after)
    if before is not None and contribution_minor(before) == new:
        return False
    old = 0 if created else await tx.mrr.position(tenant_id, after.id)
    if old == new:
        return False
    had = await tx.mrr.customer(tenant_id, after.customer_id, after.currency)
    customer_before = had or 0
    customer_after = customer_before - old + new
    kind = movement(customer_before, customer_after, had is not None)
    assert kind is not None  # old != new, so the customer's total moved
    await tx.mrr.record(
        tenant_id,
        movement_id=new_id("mrm"),
        at=at,
        subscription_id=after.id,
        customer_id=after.customer_id,
        currency=after.currency,
        subscription_minor=new,
        customer_minor=customer_after,
        kind=kind,
        delta_minor=new - old,
        shard=shard_of(after.id),
    )
    return True


@dataclass(frozen=True)
class MovementSummary:
    currency: str
    kind: str
    amount_minor: int
    count: int


@dataclass(frozen=True)
class Churn:
    currency: str
    customers_at_start: int
    customers_churned: int
    logo_churn: Decimal
    mrr_at_start_minor: int
    mrr_lost_minor: int  # churn and contraction
    revenue_churn: Decimal


class MetricsUseCases:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def mrr(self, ctx: CallContext, at: datetime | None) -> dict[str, int]:
        async with self._store.read() as tx:
            if at is None:
                return await tx.mrr.totals(ctx.tenant_id)
            return await tx.mrr.totals_at(ctx.tenant_id, at)

    async def movements(
        self, ctx: CallContext, start: datetime, end: datetime
    ) -> list[MovementSummary]:
        _check_range(start, end)
        async with self._store.read() as tx:
            sums = await tx.mrr.movement_sums(ctx.tenant_id, start, end)
        order = {kind.value: i for i, kind in enumerate(Movement)}
        return [
            MovementSummary(c, k, amount, n)
            for c, k, amount, n in sorted(sums, key=lambda r: (r[0], order.get(r[1], 99)))
        ]

    async def churn(self, ctx: CallContext, start: datetime, end: datetime) -> list[Churn]:
        """Logo churn: customers whose MRR ended in the period over those with MRR at its
        start. Revenue churn: MRR lost to churn and contraction over MRR at its start."""
        _check_range(start, end)
        async with self._store.read() as tx:
            base = await tx.mrr.customers_at(ctx.tenant_id, start)
            churned = await tx.mrr.churned(ctx.tenant_id, start, end)
            mrr_start = await tx.mrr.totals_at(ctx.tenant_id, start)
            sums = await tx.mrr.movement_sums(ctx.tenant_id, start, end)
        lost: dict[str, int] = {}
        for currency, kind, amount, _ in sums:
            if kind in (Movement.CHURN.value, Movement.CONTRACTION.value):
                lost[currency] = lost.get(currency, 0) - amount
        currencies = sorted(set(base) | set(churned) | set(mrr_start) | set(lost))
        return [
            Churn(
                c,
                base.get(c, 0),
                churned.get(c, 0),
                churn_rate(churned.get(c, 0), base.get(c, 0)),
                mrr_start.get(c, 0),
                lost.get(c, 0),
                churn_rate(lost.get(c, 0), mrr_start.get(c, 0)),
            )
            for c in currencies
        ]


def _check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidArgument.single("end_time", "must be after start_time")
