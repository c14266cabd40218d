"""What a due-work claim takes (store/due_work.py): items due on their own clock (real-time
items by the wall time, each simulation clock's by its time), the earliest first across all
of them, never an item behind an earlier unfinished one of its subscription, and, on
PostgreSQL, never an item another open claim holds, without coming back empty while more are
due. The claim walks each clock's items and the real-time items apart, each up to its own
time (migration 0036); these pin down that the merged walks take what the single walk took."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from billing.app.ports import DueItem
from billing.store.engine import create_engine
from billing.store.schema import clocks
from billing.store.sql_store import SqlStore
from conftest import Database
from store_run import run_with_store as run

WALL_NOW = datetime(2026, 12, 8, 12, tzinfo=UTC)
PAST_CLOCK = datetime(2026, 4, 1, tzinfo=UTC)  # a clock behind the wall time
AHEAD_CLOCK = datetime(2027, 6, 1, tzinfo=UTC)  # and one ahead of it
LEASE = timedelta(minutes=5)


def _item(tenant: str, clock: str | None, due_at: datetime, subscription: str = "") -> DueItem:
    return DueItem(
        tenant,
        f"due_{uuid.uuid4().hex[:20]}",
        "renew",
        subscription or f"sub_{uuid.uuid4().hex[:20]}",
        clock,
        due_at,
        "{}",
    )


async def _seed(store: SqlStore, tenant: str, items: list[DueItem]) -> None:
    async with store.write(None) as tx:
        await tx.connection.execute(
            sa.insert(clocks),
            [
                {
                    "tenant_id": tenant,
                    "id": "clk_past",
                    "display_name": "past",
                    "now": PAST_CLOCK,
                    "created_at": PAST_CLOCK,
                },
                {
                    "tenant_id": tenant,
                    "id": "clk_ahead",
                    "display_name": "ahead",
                    "now": AHEAD_CLOCK,
                    "created_at": PAST_CLOCK,
                },
            ],
        )
        for item in items:
            await tx.due_work.schedule(item)


async def _claim(store: SqlStore, limit: int, tenant: str | None = None) -> list[DueItem]:
    async with store.write(None) as tx:
        return await tx.due_work.claim(
            "worker", WALL_NOW, WALL_NOW + LEASE, limit, tenant_id=tenant
        )


def _fresh_tenant() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


def _schedule(tenant: str) -> tuple[list[DueItem], list[DueItem]]:
    """(due, not due) items of `tenant` on the wall time and on both clocks."""
    day = timedelta(days=1)
    due = [
        _item(tenant, None, WALL_NOW - 3 * day),
        _item(tenant, None, WALL_NOW),
        _item(tenant, "clk_past", PAST_CLOCK - 2 * day),
        _item(tenant, "clk_past", PAST_CLOCK),
        _item(tenant, "clk_ahead", WALL_NOW + 30 * day),  # ahead of the wall, not its clock
        _item(tenant, "clk_ahead", AHEAD_CLOCK - day),
    ]
    not_due = [
        _item(tenant, None, WALL_NOW + timedelta(seconds=1)),
        _item(tenant, "clk_past", PAST_CLOCK + timedelta(seconds=1)),
        _item(tenant, "clk_past", WALL_NOW - day),  # due by the wall, not by its clock
        _item(tenant, "clk_ahead", AHEAD_CLOCK + day),
    ]
    return due, not_due


def _ids(items: list[DueItem]) -> list[str]:
    return [item.id for item in items]


def _by_due(items: list[DueItem]) -> list[DueItem]:
    return sorted(items, key=lambda item: (item.due_at, item.id))


def test_a_claim_takes_what_is_due_on_each_items_own_clock_earliest_first(
    backend: str, make_database
) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant = _fresh_tenant()
    due, not_due = _schedule(tenant)

    async def work(store: SqlStore) -> tuple[list[DueItem], list[DueItem], list[DueItem]]:
        await _seed(store, tenant, due + not_due)
        first = await _claim(store, 4)
        rest = await _claim(store, 50)
        again = await _claim(store, 50)
        return first, rest, again

    first, rest, again = run(database, work)
    assert _ids(first) == _ids(_by_due(due)[:4])
    assert _ids(rest) == _ids(_by_due(due)[4:])
    assert again == []  # each claimed once: the others are leased or not due


def test_an_item_behind_an_earlier_unfinished_one_of_its_subscription_waits(
    backend: str, make_database
) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant = _fresh_tenant()
    subscription = "sub_" + uuid.uuid4().hex[:20]
    earlier = _item(tenant, "clk_past", PAST_CLOCK - timedelta(days=2), subscription)
    later = _item(tenant, "clk_past", PAST_CLOCK, subscription)

    async def work(store: SqlStore) -> tuple[list[DueItem], list[DueItem], list[DueItem]]:
        await _seed(store, tenant, [later, earlier])
        first = await _claim(store, 10)
        while_leased = await _claim(store, 10)
        async with store.write(None) as tx:
            assert await tx.due_work.complete(first[0], "worker", WALL_NOW)
        after = await _claim(store, 10)
        return first, while_leased, after

    first, while_leased, after = run(database, work)
    assert _ids(first) == [earlier.id]
    assert while_leased == []
    assert _ids(after) == [later.id]


def test_a_tenants_claim_takes_only_its_own_items(backend: str, make_database) -> None:  # type: ignore[no-untyped-def]
    database: Database = make_database(backend)
    tenant, other = _fresh_tenant(), _fresh_tenant()
    due, _ = _schedule(tenant)
    others, _ = _schedule(other)

    async def work(store: SqlStore) -> list[DueItem]:
        await _seed(store, tenant, due)
        await _seed(store, other, others)
        return await _claim(store, 50, tenant=tenant)

    assert _ids(run(database, work)) == _ids(_by_due(due))


def test_many_open_items_not_yet_due_do_not_hide_one_that_is(backend: str, make_database) -> None:  # type: ignore[no-untyped-def]
    """Every subscription's next renewal is open and not due: the claim still finds the one
    item due now (the single walk found it too, after reading them all)."""
    database: Database = make_database(backend)
    tenant = _fresh_tenant()
    later = [_item(tenant, "clk_past", PAST_CLOCK + timedelta(days=30)) for _ in range(300)]
    later += [_item(tenant, None, WALL_NOW + timedelta(days=30)) for _ in range(300)]
    due_now = _item(tenant, None, WALL_NOW - timedelta(minutes=1))

    async def work(store: SqlStore) -> list[DueItem]:
        await _seed(store, tenant, [*later, due_now])
        return await _claim(store, 10)

    assert _ids(run(database, work)) == [due_now.id]


async def _beside_an_open_claim(
    database: Database, items: list[DueItem], tenant: str
) -> tuple[list[DueItem], list[DueItem], list[DueItem]]:
    """(the first claim of 3, held open; a claim of 3 meanwhile; a claim after both)."""
    engine = create_engine(database.async_url)
    store = SqlStore(engine)
    try:
        await _seed(store, tenant, items)
        first_claimed = asyncio.Event()
        release = asyncio.Event()
        first: list[DueItem] = []

        async def hold_first() -> None:
            async with store.write(None) as tx:
                first.extend(await tx.due_work.claim("one", WALL_NOW, WALL_NOW + LEASE, 3))
                first_claimed.set()
                await release.wait()

        holder = asyncio.create_task(hold_first())
        await first_claimed.wait()
        meanwhile = await _claim(store, 3)
        release.set()
        await holder
        after = await _claim(store, 50)
        return first, meanwhile, after
    finally:
        await engine.dispose()


def test_a_claim_beside_an_open_one_on_the_same_clock_takes_the_next_items(
    make_database,
) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: two due-work processes claiming a bill run's clock at once. The second
    claim skips the rows the first holds (not yet committed) and takes the next due ones,
    rather than nothing."""
    database: Database = make_database("postgresql")
    tenant = _fresh_tenant()
    day = timedelta(days=1)
    items = [_item(tenant, "clk_past", PAST_CLOCK - n * day) for n in range(8)]
    ordered = _by_due(items)

    first, meanwhile, after = asyncio.run(_beside_an_open_claim(database, items, tenant))
    assert _ids(first) == _ids(ordered[:3])
    assert _ids(meanwhile) == _ids(ordered[3:6])
    assert _ids(after) == _ids(ordered[6:])


def test_claims_at_once_across_clocks_never_take_the_same_item(make_database) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL, items due in real time and on two clocks: a claim beside an open one takes
    none of its items (each walk may hold a few more rows than its claim takes until the
    claim's own transaction ends, right after it), and every item is taken once in all."""
    database: Database = make_database("postgresql")
    tenant = _fresh_tenant()
    due, not_due = _schedule(tenant)

    first, meanwhile, after = asyncio.run(_beside_an_open_claim(database, due + not_due, tenant))
    assert _ids(first) == _ids(_by_due(due)[:3])
    taken = _ids(first) + _ids(meanwhile) + _ids(after)
    assert sorted(taken) == sorted(_ids(due))
