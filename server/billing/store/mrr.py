"""MRR kept as subscriptions change (ADR 0055): positions, customer totals, movements and the
sharded tenant totals. Writes are deferred with the transaction's other writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, case, func, insert, select, union_all

from billing.domain.mrr import Movement
from billing.store.batch import BatchedConnection
from billing.store.dialect import dialect_insert, upsert
from billing.store.schema import (
    mrr_customers,
    mrr_days,
    mrr_movements,
    mrr_subscriptions,
    mrr_totals,
)

ms, mc, mm, mt, md = mrr_subscriptions, mrr_customers, mrr_movements, mrr_totals, mrr_days
INSERT_MOVEMENT = insert(mm)
DAY = timedelta(days=1)
# How a movement changes the count of customers with MRR.
# (MRR in minor units, customers with MRR): what a total, or a day's net change, holds.
Tally = tuple[int, int]
COUNTED = {Movement.NEW: 1, Movement.REACTIVATION: 1, Movement.CHURN: -1}


def day_start(at: datetime) -> datetime:
    """The start of the UTC day `at` falls in."""
    at = at.astimezone(UTC)
    return datetime(at.year, at.month, at.day, tzinfo=UTC)


POSITION = select(ms.c.mrr_minor).where(
    ms.c.tenant_id == bindparam("t"), ms.c.subscription_id == bindparam("sub")
)
CUSTOMER_MRR = select(mc.c.mrr_minor).where(
    mc.c.tenant_id == bindparam("t"),
    mc.c.customer_id == bindparam("customer"),
    mc.c.currency == bindparam("currency"),
)


class _Writes:
    """The upserts of one dialect, built once per process: built per transaction they were
    two fifths of a CreateCustomer's CPU (every SqlTransaction made them, `Insert.excluded`
    building column proxies), and new statement objects each time defeated the write batch's
    shape cache (keyed by the statement's identity)."""

    def __init__(self, name: str) -> None:
        self.put_position = upsert(
            name, ms, ["tenant_id", "subscription_id"], ["customer_id", "currency", "mrr_minor"]
        )
        self.put_customer = upsert(
            name, mc, ["tenant_id", "customer_id", "currency"], ["mrr_minor"]
        )
        self.put_total = upsert(
            name, mt, ["tenant_id", "currency", "shard"], ["mrr_minor", "customers"]
        )
        add = dialect_insert(name, mt)
        self.add_total = add.on_conflict_do_update(
            index_elements=["tenant_id", "currency", "shard"],
            set_={
                "mrr_minor": mt.c.mrr_minor + add.excluded.mrr_minor,
                "customers": mt.c.customers + add.excluded.customers,
            },
        )
        add_day = dialect_insert(name, md)
        self.add_day = add_day.on_conflict_do_update(
            index_elements=["tenant_id", "day_start", "currency", "shard"],
            set_={
                "delta_minor": md.c.delta_minor + add_day.excluded.delta_minor,
                "customers_delta": md.c.customers_delta + add_day.excluded.customers_delta,
            },
        )
        self.put_day = upsert(
            name,
            md,
            ["tenant_id", "day_start", "currency", "shard"],
            ["delta_minor", "customers_delta"],
        )


_WRITES: dict[str, _Writes] = {}


def _writes(name: str) -> _Writes:
    writes = _WRITES.get(name)
    if writes is None:
        writes = _WRITES[name] = _Writes(name)
    return writes


class SqlMrr:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        w = _writes(conn.dialect.name)
        self._put_position = w.put_position
        self._put_customer = w.put_customer
        self._put_total = w.put_total
        self._add_total = w.add_total
        self._add_day = w.add_day
        self._put_day = w.put_day

    async def position(self, tenant_id: str, subscription_id: str) -> int:
        rows = await self._conn.fetch(POSITION, {"t": tenant_id, "sub": subscription_id})
        return int(rows[0][0]) if rows else 0

    async def customer(self, tenant_id: str, customer_id: str, currency: str) -> int | None:
        """The customer's MRR; None when it never had any."""
        params = {"t": tenant_id, "customer": customer_id, "currency": currency}
        rows = await self._conn.fetch(CUSTOMER_MRR, params)
        return int(rows[0][0]) if rows else None

    async def record(
        self,
        tenant_id: str,
        *,
        movement_id: str,
        at: datetime,
        subscription_id: str,
        customer_id: str,
        currency: str,
        subscription_minor: int,
        customer_minor: int,
        kind: Movement,
        delta_minor: int,
        shard: int,
    ) -> None:
        t = tenant_id
        position = {"tenant_id": t, "subscription_id": subscription_id,
                    "customer_id": customer_id, "currency": currency,
                    "mrr_minor": subscription_minor}  # fmt: skip
        customer = {"tenant_id": t, "customer_id": customer_id, "currency": currency,
                    "mrr_minor": customer_minor}  # fmt: skip
        move = {"tenant_id": t, "id": movement_id, "occurred_at": at,
                "customer_id": customer_id, "subscription_id": subscription_id,
                "currency": currency, "kind": kind.value, "delta_minor": delta_minor}  # fmt: skip
        counted = COUNTED.get(kind, 0)
        total = {"tenant_id": t, "currency": currency, "shard": shard, "mrr_minor": delta_minor,
                 "customers": counted}  # fmt: skip
        day = {"tenant_id": t, "day_start": day_start(at), "currency": currency, "shard": shard,
               "delta_minor": delta_minor, "customers_delta": counted}  # fmt: skip
        self._conn.defer(self._put_position, position)
        self._conn.defer(self._put_customer, customer)
        self._conn.defer(INSERT_MOVEMENT, move)
        self._conn.defer(self._add_total, total)
        self._conn.defer(self._add_day, day)

    async def totals(self, tenant_id: str) -> dict[str, int]:
        """Current MRR per currency: the shards summed."""
        rows = await self._conn.execute(
            select(mt.c.currency, func.sum(mt.c.mrr_minor).label("mrr"))
            .where(mt.c.tenant_id == tenant_id)
            .group_by(mt.c.currency)
        )
        return {r.currency: int(r.mrr) for r in rows}

    async def totals_at(self, tenant_id: str, at: datetime) -> dict[str, int]:
        """MRR per currency at an instant: the current total less what moved at or after it,
        read as the net of each whole UTC day after it plus the movements left in its own day,
        so the cost is bounded by the days since and one day's movements, never by history
        (ADR 0055). One statement: the three parts are read from one snapshot."""
        next_day = day_start(at) if day_start(at) == at else day_start(at) + DAY
        now = select(mt.c.currency, mt.c.mrr_minor.label("minor")).where(
            mt.c.tenant_id == tenant_id
        )
        days = select(md.c.currency, (-md.c.delta_minor).label("minor")).where(
            md.c.tenant_id == tenant_id, md.c.day_start >= next_day
        )
        rest = select(mm.c.currency, (-mm.c.delta_minor).label("minor")).where(
            mm.c.tenant_id == tenant_id, mm.c.occurred_at >= at, mm.c.occurred_at < next_day
        )
        both = union_all(now, days, rest).subquery()
        rows = await self._conn.execute(
            select(both.c.currency, func.sum(both.c.minor).label("mrr")).group_by(both.c.currency)
        )
        return {r.currency: int(r.mrr) for r in rows}

    async def movement_sums(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[tuple[str, str, int, int]]:
        """(currency, kind, sum of deltas, count) of the movements in [start, end)."""
        rows = await self._conn.execute(
            select(mm.c.currency, mm.c.kind, func.sum(mm.c.delta_minor).label("total"),
                   func.count().label("n"))
            .where(mm.c.tenant_id == tenant_id, mm.c.occurred_at >= start, mm.c.occurred_at < end)
            .group_by(mm.c.currency, mm.c.kind)
        )  # fmt: skip
        return [(r.currency, r.kind, int(r.total), int(r.n)) for r in rows]

    async def customers_at(self, tenant_id: str, at: datetime) -> dict[str, int]:
        """Customers with MRR at an instant, per currency: the current count less the net
        change of each whole UTC day after it and of the movements left in its own day, bounded
        as `totals_at` is (migration 0032). One statement, one snapshot."""
        next_day = day_start(at) if day_start(at) == at else day_start(at) + DAY
        now = select(mt.c.currency, mt.c.customers.label("n")).where(mt.c.tenant_id == tenant_id)
        days = select(md.c.currency, (-md.c.customers_delta).label("n")).where(
            md.c.tenant_id == tenant_id, md.c.day_start >= next_day
        )
        counted = case(
            (mm.c.kind.in_([Movement.NEW.value, Movement.REACTIVATION.value]), -1),
            (mm.c.kind == Movement.CHURN.value, 1),
            else_=0,
        )
        rest = select(mm.c.currency, counted.label("n")).where(
            mm.c.tenant_id == tenant_id, mm.c.occurred_at >= at, mm.c.occurred_at < next_day
        )
        both = union_all(now, days, rest).subquery()
        rows = await self._conn.execute(
            select(both.c.currency, func.sum(both.c.n).label("n")).group_by(both.c.currency)
        )
        return {r.currency: int(r.n) for r in rows if int(r.n)}

    async def churned(self, tenant_id: str, start: datetime, end: datetime) -> dict[str, int]:
        """Customers whose last movement in [start, end) was a churn, per currency."""
        churns = func.sum(case((mm.c.kind == Movement.CHURN.value, 1), else_=0))
        back = func.sum(
            case((mm.c.kind.in_([Movement.NEW.value, Movement.REACTIVATION.value]), 1), else_=0)
        )
        per_customer = (
            select(mm.c.customer_id, mm.c.currency)
            .where(mm.c.tenant_id == tenant_id, mm.c.occurred_at >= start, mm.c.occurred_at < end)
            .group_by(mm.c.customer_id, mm.c.currency)
            .having(churns > back)
            .subquery()
        )
        rows = await self._conn.execute(
            select(per_customer.c.currency, func.count().label("n")).group_by(
                per_customer.c.currency
            )
        )
        return {r.currency: int(r.n) for r in rows}

    # --- the rebuild's reads and absolute writes (`billing mrr rebuild`) ---------------------

    async def positions(self, tenant_id: str) -> list[tuple[str, str, str, int]]:
        """(subscription id, customer id, currency, MRR) of every position."""
        rows = await self._conn.execute(
            select(ms.c.subscription_id, ms.c.customer_id, ms.c.currency, ms.c.mrr_minor).where(
                ms.c.tenant_id == tenant_id
            )
        )
        return [(r.subscription_id, r.customer_id, r.currency, int(r.mrr_minor)) for r in rows]

    async def positions_of(self, tenant_id: str, subscription_ids: list[str]) -> dict[str, int]:
        """The positions of these subscriptions (absent: none yet), in one read."""
        if not subscription_ids:
            return {}
        rows = await self._conn.execute(
            select(ms.c.subscription_id, ms.c.mrr_minor).where(
                ms.c.tenant_id == tenant_id, ms.c.subscription_id.in_(subscription_ids)
            )
        )
        return {r.subscription_id: int(r.mrr_minor) for r in rows}

    async def customer_rows(self, tenant_id: str) -> dict[tuple[str, str], int]:
        rows = await self._conn.execute(
            select(mc.c.customer_id, mc.c.currency, mc.c.mrr_minor).where(
                mc.c.tenant_id == tenant_id
            )
        )
        return {(r.customer_id, r.currency): int(r.mrr_minor) for r in rows}

    async def shard_rows(self, tenant_id: str) -> dict[tuple[str, int], Tally]:
        rows = await self._conn.execute(
            select(mt.c.currency, mt.c.shard, mt.c.mrr_minor, mt.c.customers).where(
                mt.c.tenant_id == tenant_id
            )
        )
        return {(r.currency, int(r.shard)): (int(r.mrr_minor), int(r.customers)) for r in rows}

    async def put_customer(
        self, tenant_id: str, customer_id: str, currency: str, minor: int
    ) -> None:
        row = {"tenant_id": tenant_id, "customer_id": customer_id, "currency": currency,
               "mrr_minor": minor}  # fmt: skip
        self._conn.defer(self._put_customer, row)

    async def put_total(self, tenant_id: str, currency: str, shard: int, tally: Tally) -> None:
        row = {"tenant_id": tenant_id, "currency": currency, "shard": shard,
               "mrr_minor": tally[0], "customers": tally[1]}  # fmt: skip
        self._conn.defer(self._put_total, row)

    async def day_rows(self, tenant_id: str) -> dict[tuple[datetime, str, int], Tally]:
        rows = await self._conn.execute(
            select(
                md.c.day_start, md.c.currency, md.c.shard, md.c.delta_minor, md.c.customers_delta
            ).where(md.c.tenant_id == tenant_id)
        )
        return {
            (r.day_start, r.currency, int(r.shard)): (int(r.delta_minor), int(r.customers_delta))
            for r in rows
        }

    async def movement_days(self, tenant_id: str) -> dict[tuple[datetime, str], Tally]:
        """The net of the movements, and of the customers they count, per UTC day and currency
        (summed here: day arithmetic differs between the databases)."""
        rows = await self._conn.execute(
            select(mm.c.occurred_at, mm.c.currency, mm.c.kind, mm.c.delta_minor).where(
                mm.c.tenant_id == tenant_id
            )
        )
        sums: dict[tuple[datetime, str], Tally] = {}
        for r in rows:
            key = (day_start(r.occurred_at), r.currency)
            minor, customers = sums.get(key, (0, 0))
            sums[key] = (minor + int(r.delta_minor), customers + COUNTED.get(Movement(r.kind), 0))
        return sums

    async def put_day(
        self, tenant_id: str, day: datetime, currency: str, shard: int, tally: Tally
    ) -> None:
        row = {"tenant_id": tenant_id, "day_start": day, "currency": currency, "shard": shard,
               "delta_minor": tally[0], "customers_delta": tally[1]}  # fmt: skip
        self._conn.defer(self._put_day, row)
