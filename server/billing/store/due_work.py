"""Due work rows: scheduled once, claimed with a wall-time lease, completed in the work's own
transaction.

Claiming takes items that are due on their clock (the simulation clock's time, or wall time
for real customers), not leased by a live worker, and with no earlier unfinished item of
the same subscription, so each subscription's work runs in due-time order. On PostgreSQL
`FOR UPDATE SKIP LOCKED` lets many workers claim side by side without waiting on each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    exists,
    func,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement, Executable

from billing.app.ports import DueItem, ParkedItem
from billing.store.batch import BatchedConnection
from billing.store.dialect import insert_or_ignore
from billing.store.schema import clocks, due_work, subscriptions
from billing.store.types import UTCDateTime

d = due_work
DELIVERY_KIND = "deliver_invoice"
_parked = aliased(due_work)
# Not held back by a parked item of its subscription (the parked one included): what a run
# still waits for. The partial index on parked items makes it a probe of a tiny index.
_NOT_PARKED = ~exists().where(
    _parked.c.tenant_id == d.c.tenant_id,
    _parked.c.subscription_id == d.c.subscription_id,
    _parked.c.parked_at.is_not(None),
    _parked.c.done_at.is_(None),
)
_WALL_NOW = bindparam("wall_now", type_=UTCDateTime)
_RETURNED = (
    d.c.tenant_id,
    d.c.id,
    d.c.kind,
    d.c.subscription_id,
    d.c.clock_id,
    d.c.due_at,
    d.c.payload,
    d.c.attempts,
)


def _claimable(t: Any) -> tuple[ColumnElement[bool], ...]:
    """Conditions an open item of `t` (the table or an alias) is claimable under: not parked,
    not leased by a live worker, and no earlier unfinished item of its subscription (probed
    by the partial index on open items by subscription and due time)."""
    earlier = aliased(due_work)
    return (
        t.c.done_at.is_(None),
        t.c.parked_at.is_(None),
        or_(t.c.lease_until.is_(None), t.c.lease_until < _WALL_NOW),
        ~exists().where(
            earlier.c.tenant_id == t.c.tenant_id,
            earlier.c.subscription_id == t.c.subscription_id,
            earlier.c.done_at.is_(None),
            earlier.c.due_at < t.c.due_at,
        ),
    )


def _real_time_walk(t: Any, tenant: bool) -> Select[Any]:
    """Open real-time items due by the wall time, in due order, the first `p_limit`."""
    walk = (
        select(t.c.tenant_id, t.c.id, t.c.due_at)
        .where(t.c.clock_id.is_(None), t.c.due_at <= _WALL_NOW, *_claimable(t))
        .order_by(t.c.due_at)
        .limit(bindparam("p_limit"))
    )
    return walk.where(t.c.tenant_id == bindparam("p_tenant")) if tenant else walk


def _clock_walk(t: Any, tenant_id: Any, clock_id: Any, now: Any) -> Select[Any]:
    """Open items of one clock due by its time `now`, in due order, the first `p_limit` (the
    partial index on open items by tenant, clock and due time gives that order)."""
    return (
        select(t.c.tenant_id, t.c.id, t.c.due_at)
        .where(
            t.c.tenant_id == tenant_id, t.c.clock_id == clock_id, t.c.due_at <= now, *_claimable(t)
        )
        .order_by(t.c.due_at)
        .limit(bindparam("p_limit"))
    )


def _bounded_candidates(tenant: bool) -> Select[Any]:
    """PostgreSQL: the first due items across the scope (every tenant, or one), each walk
    bounded by the time its items are due against: real-time items up to the wall time, each
    clock's items up to its own time (ADR 0078). One walk in due order over every open item,
    with each item's clock joined in, could stop only at `p_limit` items, so when fewer were
    due it read every open item there is (every subscription's next renewal) on each claim.
    Each walk here stops at its bound or its limit, skipping rows another claim holds; the
    merged walks' first `p_limit` are the claim."""
    real = aliased(due_work, name="real_time_item")
    real_time = _real_time_walk(real, tenant).with_for_update(of=real, skip_locked=True)
    item = aliased(due_work, name="clock_item")
    # Per clock, a walk of its own open items in due order (LATERAL): a clock with many items
    # due (a bill run's month) is not sorted whole to find its first few.
    walk = (
        _clock_walk(item, clocks.c.tenant_id, clocks.c.id, clocks.c.now)
        .with_for_update(of=item, skip_locked=True)
        .lateral("clock_walk")
    )
    clock_items = select(walk.c.tenant_id, walk.c.id, walk.c.due_at).select_from(
        clocks.join(walk, true())
    )
    if tenant:
        clock_items = clock_items.where(clocks.c.tenant_id == bindparam("p_tenant"))
    real_walk = real_time.subquery("real_time_walk")
    due = union_all(
        select(real_walk.c.tenant_id, real_walk.c.id, real_walk.c.due_at), clock_items
    ).subquery("due")
    return select(due.c.tenant_id, due.c.id).order_by(due.c.due_at).limit(bindparam("p_limit"))


def _claim_statement(scope: str) -> Executable:
    """scope: "any" (every tenant) and "tenant" (one tenant) on PostgreSQL; "clock" (one
    simulation clock), "subscriptions" (some subscriptions of one tenant: a bill run)."""
    candidates: Select[Any]
    if scope in ("any", "tenant"):
        candidates = _bounded_candidates(tenant=scope == "tenant")
    elif scope == "clock":
        # One clock: its time is a single value, read once, so the partial index on open
        # items by (tenant, clock, due_at) bounds the scan instead of every open item
        # being joined to its clock.
        this_clock_now = (
            select(clocks.c.now)
            .where(clocks.c.tenant_id == bindparam("p_tenant"), clocks.c.id == bindparam("p_clock"))
            .scalar_subquery()
        )
        candidates = (
            _clock_walk(d, bindparam("p_tenant"), bindparam("p_clock"), this_clock_now)
            .with_only_columns(d.c.tenant_id, d.c.id)
            .with_for_update(skip_locked=True)
        )
    else:  # "subscriptions": a bill run's, a few subscriptions probed by their own index
        candidates = (
            select(d.c.tenant_id, d.c.id)
            .select_from(
                d.outerjoin(
                    clocks, and_(clocks.c.tenant_id == d.c.tenant_id, clocks.c.id == d.c.clock_id)
                )
            )
            .where(
                d.c.tenant_id == bindparam("p_tenant"),
                d.c.subscription_id.in_(bindparam("p_subs", expanding=True)),
                d.c.due_at <= func.coalesce(clocks.c.now, _WALL_NOW),
                *_claimable(d),
            )
            .order_by(d.c.due_at)
            .limit(bindparam("p_limit"))
            .with_for_update(of=d, skip_locked=True)
        )
    return _lease(tuple_(d.c.tenant_id, d.c.id).in_(candidates))


def _lease(which: ColumnElement[bool]) -> Executable:
    """Lease the items `which` picks to `p_owner` until `p_lease_until`, one attempt more."""
    return (
        update(d)
        .where(which)
        .values(
            lease_owner=bindparam("p_owner"),
            lease_until=bindparam("p_lease_until", type_=UTCDateTime),
            attempts=d.c.attempts + 1,
        )
        .returning(*_RETURNED)
    )


_SCHEDULE = {
    name: insert_or_ignore(name, d, ["tenant_id", "subscription_id", "kind", "due_at"])
    for name in ("postgresql", "sqlite")
}
_CLAIMS = {scope: _claim_statement(scope) for scope in ("any", "clock", "tenant", "subscriptions")}
# SQLite, every tenant or one: the walks read one by one (it has no LATERAL, and one walk
# joined to every clock sorted all of a clock's due items, each probed, to take its first
# few), merged here, then leased. One writer: the claim's transaction holds the database's
# write lock from its first statement, so nothing claims between the reads and the lease.
_SQLITE_CLOCKS = {
    tenant: select(clocks.c.tenant_id, clocks.c.id, clocks.c.now).where(
        clocks.c.tenant_id == bindparam("p_tenant") if tenant else true()
    )
    for tenant in (False, True)
}
_SQLITE_REAL_TIME_WALK = {tenant: _real_time_walk(d, tenant) for tenant in (False, True)}
_SQLITE_CLOCK_WALK = _clock_walk(
    d, bindparam("p_tenant"), bindparam("p_clock"), bindparam("p_clock_now", type_=UTCDateTime)
)
# By tenant, the ids a list: SQLite scans the whole table for a list of (tenant, id) pairs.
_SQLITE_LEASE = _lease(
    and_(d.c.tenant_id == bindparam("p_tenant"), d.c.id.in_(bindparam("p_ids", expanding=True)))
)
_COMPLETE = (
    update(d)
    .where(
        d.c.tenant_id == bindparam("p_tenant"),
        d.c.id == bindparam("p_id"),
        d.c.lease_owner == bindparam("p_owner"),  # as `_leased_to`
        d.c.done_at.is_(None),
    )
    .values(done_at=bindparam("p_at"), lease_owner=null(), lease_until=null())
    .returning(d.c.id)
)


def due_row(item: DueItem) -> dict[str, Any]:
    """A new due item as its `due_work` row (no attempt made yet)."""
    return {
        "tenant_id": item.tenant_id,
        "id": item.id,
        "kind": item.kind,
        "subscription_id": item.subscription_id,
        "clock_id": item.clock_id,
        "due_at": item.due_at,
        "payload": item.payload,
        "attempts": 0,
    }


class SqlDueWork:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def schedule(self, item: DueItem) -> None:
        """Add the item unless the same (subscription, kind, due time) is already there."""
        self._conn.defer(_SCHEDULE[self._conn.dialect.name], due_row(item))

    async def claim(
        self,
        owner: str,
        wall_now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        tenant_id: str | None = None,
        clock_id: str | None = None,
        subscription_ids: Sequence[str] | None = None,
    ) -> list[DueItem]:
        params: dict[str, object] = {
            "p_owner": owner,
            "wall_now": wall_now,
            "p_lease_until": lease_until,
            "p_limit": limit,
        }
        scope = "any"
        if clock_id is not None:
            scope = "clock"
            params.update(p_tenant=tenant_id, p_clock=clock_id)
        elif subscription_ids is not None:
            scope = "subscriptions"
            params.update(p_tenant=tenant_id, p_subs=list(subscription_ids))
        elif tenant_id is not None:
            scope = "tenant"
            params.update(p_tenant=tenant_id)
        if scope in ("any", "tenant") and self._conn.dialect.name == "sqlite":
            rows = await self._claim_walks_one_by_one(params, limit, tenant=scope == "tenant")
        else:
            rows = (await self._conn.execute(_CLAIMS[scope], params)).all()
        items = [DueItem(*cells) for cells in (tuple(row) for row in rows)]
        return sorted(items, key=lambda item: (item.due_at, item.id))

    async def _claim_walks_one_by_one(
        self, params: dict[str, object], limit: int, *, tenant: bool
    ) -> Sequence[Any]:
        """SQLite's claim across clocks (see _SQLITE_CLOCKS)."""
        due = list((await self._conn.execute(_SQLITE_REAL_TIME_WALK[tenant], params)).all())
        for clock in (await self._conn.execute(_SQLITE_CLOCKS[tenant], params)).all():
            walk = {"p_tenant": clock.tenant_id, "p_clock": clock.id, "p_clock_now": clock.now}
            due += (await self._conn.execute(_SQLITE_CLOCK_WALK, params | walk)).all()
        first = sorted(due, key=lambda row: (row.due_at, row.id))[:limit]
        by_tenant: dict[str, list[str]] = {}
        for row in first:
            by_tenant.setdefault(row.tenant_id, []).append(row.id)
        leased: list[Any] = []
        for tenant_id, ids in by_tenant.items():
            lease = params | {"p_tenant": tenant_id, "p_ids": ids}
            leased += (await self._conn.execute(_SQLITE_LEASE, lease)).all()
        return leased

    async def complete(self, item: DueItem, owner: str, at: datetime) -> bool:
        """Mark done, if this worker still holds the lease. On PostgreSQL, first in its
        transaction, it travels with the BEGIN (one round trip, not two: the item's own
        transaction is otherwise BEGIN, this, the handler's reads and the COMMIT)."""
        params = {"p_tenant": item.tenant_id, "p_id": item.id, "p_owner": owner, "p_at": at}
        if self._conn.dialect.name == "postgresql":
            (rows,) = await self._conn.open_together([(_COMPLETE, params)])
            return bool(rows)
        return (await self._conn.execute(_COMPLETE, params)).first() is not None

    async def release(
        self,
        item: DueItem,
        owner: str,
        retry_at: datetime,
        error: str = "",
        *,
        count_attempt: bool = True,
    ) -> None:
        """Give the item back after a failure; it is claimed again from `retry_at` on.
        Without `count_attempt` the claim's attempt is taken back and its last error kept."""
        values: dict[str, Any] = {"lease_owner": None, "lease_until": retry_at}
        if count_attempt:
            values["last_error"] = error or None
        else:
            values["attempts"] = d.c.attempts - 1
        await self._conn.execute(update(d).where(*_leased_to(item, owner)).values(**values))

    async def unfinished_renewals(self, tenant_id: str, customer_id: str, up_to: datetime) -> int:
        # Few rows: the customer's subscriptions (indexed), each probed by the unique
        # (tenant, subscription, kind, due_at) index.
        statement = (
            select(func.count())
            .select_from(d.join(subscriptions, subscriptions.c.id == d.c.subscription_id))
            .where(
                subscriptions.c.tenant_id == tenant_id,
                subscriptions.c.customer_id == customer_id,
                d.c.tenant_id == tenant_id,
                d.c.kind == "renew",
                d.c.due_at <= up_to,
                d.c.done_at.is_(None),
                _NOT_PARKED,
            )
        )
        return int((await self._conn.execute(statement)).scalar_one())

    async def park(self, item: DueItem, owner: str, at: datetime, error: str) -> None:
        """Stop claiming the item (its last attempt failed) until `unpark`."""
        await self._conn.execute(
            update(d)
            .where(*_leased_to(item, owner))
            .values(lease_owner=None, lease_until=None, last_error=error, parked_at=at)
        )

    async def unpark(self, tenant_id: str, item_id: str) -> bool:
        """Make a parked item claimable again, with its attempts from zero; False if there
        is no such parked item. Its last error stays until it runs."""
        result = await self._conn.execute(
            update(d)
            .where(
                d.c.tenant_id == tenant_id,
                d.c.id == item_id,
                d.c.parked_at.is_not(None),
                d.c.done_at.is_(None),
            )
            .values(parked_at=None, attempts=0, lease_owner=None, lease_until=None)
            .returning(d.c.id)
        )
        return result.first() is not None

    async def parked(
        self,
        tenant_id: str | None,
        *,
        clock_id: str | None = None,
        up_to: datetime | None = None,
        subscription_ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> tuple[int, list[ParkedItem]]:
        """How many items are parked in the scope (a tenant, or every tenant with None; a
        clock up to a time; some subscriptions), and the first `limit` of them by due time."""
        conditions: list[ColumnElement[bool]] = [d.c.parked_at.is_not(None), d.c.done_at.is_(None)]
        if tenant_id is not None:
            conditions.append(d.c.tenant_id == tenant_id)
        if clock_id is not None:
            conditions.append(d.c.clock_id == clock_id)
        if up_to is not None:
            conditions.append(d.c.due_at <= up_to)
        if subscription_ids is not None:
            conditions.append(d.c.subscription_id.in_(list(subscription_ids)))
        count = int(
            await self._conn.scalar(select(func.count()).select_from(d).where(*conditions)) or 0
        )
        if not count:
            return 0, []
        rows = await self._conn.execute(
            select(
                d.c.tenant_id,
                d.c.id,
                d.c.kind,
                d.c.subscription_id,
                d.c.due_at,
                d.c.attempts,
                d.c.last_error,
                d.c.parked_at,
            )
            .where(*conditions)
            .order_by(d.c.due_at, d.c.id)
            .limit(limit)
        )
        return count, [
            ParkedItem(
                row.tenant_id,
                row.id,
                row.kind,
                row.subscription_id,
                row.due_at,
                row.attempts,
                row.last_error or "",
                row.parked_at,
            )
            for row in rows
        ]

    async def pending_count(self, tenant_id: str, clock_id: str, up_to: datetime) -> int:
        count = await self._conn.scalar(
            select(func.count())
            .select_from(d)
            .where(
                d.c.tenant_id == tenant_id,
                d.c.clock_id == clock_id,
                d.c.done_at.is_(None),
                d.c.due_at <= up_to,
                d.c.kind != DELIVERY_KIND,  # progress of billing; deliveries follow on their own
                _NOT_PARKED,  # reported apart: no run waits for them
            )
        )
        return int(count or 0)

    async def done_count(
        self, tenant_id: str, clock_id: str, after: datetime, up_to: datetime
    ) -> int:
        count = await self._conn.scalar(
            select(func.count())
            .select_from(d)
            .where(
                d.c.tenant_id == tenant_id,
                d.c.clock_id == clock_id,
                d.c.done_at.is_not(None),
                d.c.due_at > after,
                d.c.due_at <= up_to,
                d.c.kind != DELIVERY_KIND,
            )
        )
        return int(count or 0)

    async def due_count(
        self, tenant_id: str, subscription_ids: Sequence[str] | None, wall_now: datetime
    ) -> int:
        """Unfinished billing items of the tenant (or of these subscriptions) that are due on
        their own clock, and neither parked nor held back by a parked item."""
        query = (
            select(func.count())
            .select_from(
                d.outerjoin(
                    clocks, and_(clocks.c.tenant_id == d.c.tenant_id, clocks.c.id == d.c.clock_id)
                )
            )
            .where(
                d.c.tenant_id == tenant_id,
                d.c.done_at.is_(None),
                d.c.kind != DELIVERY_KIND,
                d.c.due_at
                <= func.coalesce(clocks.c.now, bindparam("w", wall_now, type_=UTCDateTime)),
                _NOT_PARKED,
            )
        )
        if subscription_ids is not None:
            query = query.where(d.c.subscription_id.in_(list(subscription_ids)))
        return int(await self._conn.scalar(query) or 0)


def _leased_to(item: DueItem, owner: str) -> tuple[ColumnElement[bool], ...]:
    """The item, still unfinished and leased to `owner`: a worker whose lease lapsed and
    was taken over changes nothing (complete, release and park all check it)."""
    return (
        d.c.tenant_id == item.tenant_id,
        d.c.id == item.id,
        d.c.lease_owner == owner,
        d.c.done_at.is_(None),
    )
