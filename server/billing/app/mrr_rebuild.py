"""`billing mrr rebuild`: recompute a tenant's MRR state from its subscriptions (ADR 0055), for
a backfill after a migration or a repair after a bug. Idempotent: a second run changes nothing.

Three steps, each bringing one table in line with the one it derives from:
1. customers' totals from the positions (so the movements step 2 writes classify right);
2. each subscription through the write path's `track`: a position that differs from the
   subscription's contribution moves, with a movement at the rebuild's instant (history that
   was never recorded cannot be invented; the movement says when the state was corrected);
3. the shard totals from the positions (a no-op unless they had drifted);
4. each UTC day's net movement from the movements (what MRR at an instant reads).
Run it while the tenant's subscriptions are not being changed, as any backfill."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from billing.app.clock import Clock
from billing.app.mrr import shard_of, track
from billing.app.ports import Store
from billing.domain.mrr import contribution_minor

PAGE = 500  # subscriptions per transaction


@dataclass(frozen=True)
class Rebuilt:
    subscriptions: int  # read
    positions_moved: int  # a movement written
    customers_fixed: int
    shards_fixed: int
    days_fixed: int


async def rebuild(store: Store, clock: Clock, tenant_id: str) -> Rebuilt:
    customers_fixed = await _fix_customers(store, tenant_id)
    seen = moved = 0
    after: str | None = None
    while True:
        async with store.write(None) as tx:
            page = await tx.subscriptions.list_after(tenant_id, None, after, PAGE)
            at = clock.now()
            held = await tx.mrr.positions_of(tenant_id, [sub.id for sub in page])
            for sub in page:  # one read per page when nothing moved: a re-run is cheap
                if contribution_minor(sub) != held.get(sub.id, 0):
                    moved += await track(tx, tenant_id, sub, at)
        seen += len(page)
        if len(page) < PAGE:
            break
        after = page[-1].id
    shards_fixed = await _fix_totals(store, tenant_id)
    return Rebuilt(seen, moved, customers_fixed, shards_fixed, await _fix_days(store, tenant_id))


async def _fix_customers(store: Store, tenant_id: str) -> int:
    async with store.write(None) as tx:
        stored = await tx.mrr.customer_rows(tenant_id)
        want: dict[tuple[str, str], int] = defaultdict(int)
        for _, customer_id, currency, minor in await tx.mrr.positions(tenant_id):
            want[(customer_id, currency)] += minor
        wrong = {key: minor for key, minor in want.items() if stored.get(key) != minor}
        for (customer_id, currency), minor in wrong.items():
            await tx.mrr.put_customer(tenant_id, customer_id, currency, minor)
    return len(wrong)


async def _fix_totals(store: Store, tenant_id: str) -> int:
    """Each shard's MRR from its positions; the count of customers with MRR per currency, any
    difference put in shard 0 (counts are per customer, not per shard)."""
    async with store.write(None) as tx:
        stored = await tx.mrr.shard_rows(tenant_id)
        minor: dict[tuple[str, int], int] = {key: 0 for key in stored}
        per_customer: dict[tuple[str, str], int] = defaultdict(int)
        for subscription_id, customer_id, currency, held in await tx.mrr.positions(tenant_id):
            key = (currency, shard_of(subscription_id))
            minor[key] = minor.get(key, 0) + held
            per_customer[(currency, customer_id)] += held
        customers: dict[str, int] = defaultdict(int)
        for (currency, _), held in per_customer.items():
            customers[currency] += int(held > 0)
        counted: dict[str, int] = defaultdict(int)
        for (currency, _), (_, n) in stored.items():
            counted[currency] += n
        want = {key: (m, stored.get(key, (0, 0))[1]) for key, m in minor.items()}
        for currency in set(customers) | set(counted):
            m, n = want.get((currency, 0), (0, 0))
            want[(currency, 0)] = (m, n + customers[currency] - counted[currency])
        wrong = {key: tally for key, tally in want.items() if stored.get(key, (0, 0)) != tally}
        for (currency, shard), tally in wrong.items():
            await tx.mrr.put_total(tenant_id, currency, shard, tally)
    return len(wrong)


async def _fix_days(store: Store, tenant_id: str) -> int:
    """A day whose shards do not add up to its movements gets the difference in shard 0."""
    async with store.write(None) as tx:
        stored = await tx.mrr.day_rows(tenant_id)
        want = await tx.mrr.movement_days(tenant_id)
        summed: dict[tuple[datetime, str], tuple[int, int]] = defaultdict(lambda: (0, 0))
        for (day, currency, _), (minor, n) in stored.items():
            had = summed[(day, currency)]
            summed[(day, currency)] = (had[0] + minor, had[1] + n)
        keys = set(want) | set(summed)
        wrong = [key for key in keys if want.get(key, (0, 0)) != summed.get(key, (0, 0))]
        for day, currency in wrong:
            goal, sums = want.get((day, currency), (0, 0)), summed[(day, currency)]
            zero = stored.get((day, currency, 0), (0, 0))
            fixed = (zero[0] + goal[0] - sums[0], zero[1] + goal[1] - sums[1])
            await tx.mrr.put_day(tenant_id, day, currency, 0, fixed)
    return len(wrong)
