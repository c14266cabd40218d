"""Reads sent with a write's opening query (store/read_ahead.py, ADR 0069): each repository
read they answer gives the same rows as without them, once, never rows older than the
transaction's own writes; the credit rows are locked as the balance's own read locks them;
and they cost no round trip of their own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import partial
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from billing.app.ports import IdempotencyKey, ReadAhead
from billing.app.ports import SimulationClock as ClockRow
from billing.domain.customers import Customer, CustomerFields
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import (
    Line,
    LineKind,
    Settlement,
    Status,
    Subscription,
    exact_line,
)
from billing.store import batch, ledger
from billing.store.customers import GET as CUSTOMER
from billing.store.sql_store import SqlStore, SqlTransaction
from conftest import Database
from store_run import run_with_store as run

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
CLOCK_NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


@pytest.fixture
def postgres(make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database("postgresql")


def key() -> IdempotencyKey:
    return IdempotencyKey("t1", "CreateSubscription", uuid.uuid4().hex)


def customer(customer_id: str, clock_id: str | None = None, name: str = "Acme") -> Customer:
    fields = CustomerFields(display_name=name, currency_code="EUR")
    return Customer(customer_id, fields, 1, NOW, NOW, clock_id)


def execute(database: Database, *statements: str) -> None:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        engine.dispose()


async def seed(store: SqlStore) -> None:
    """cus_1 on a clock, with credit in EUR and USD, an attached card and MRR in EUR;
    cus_2 with nothing but itself."""
    async with store.write(None) as tx:
        await tx.clocks.insert("t1", ClockRow("clk_1", "Test clock", CLOCK_NOW, NOW))
        await tx.customers.insert("t1", customer("cus_1", "clk_1"))
        await tx.customers.insert("t1", customer("cus_2"))
        await tx.credit.set_balance("t1", "cus_1", "EUR", 1250)
        await tx.credit.set_balance("t1", "cus_1", "USD", 40)


SEED_SQL = (
    "insert into payment_methods (tenant_id, id, customer_id, gateway, token_ciphertext,"
    " key_id, type, fingerprint, brand, last4, exp_month, exp_year, country, billing_country,"
    " is_default, created_at, version) values ('t1', 'pm_1', 'cus_1', 'stripe', 'x', 'k1',"
    " 'card', 'fp', 'visa', '4242', 12, 2030, 'DE', 'DE', true, now(), 1)",
    "insert into mrr_customers (tenant_id, customer_id, currency, mrr_minor)"
    " values ('t1', 'cus_1', 'EUR', 9900)",
)


async def asked_both_ways(
    store: SqlStore,
    ahead: ReadAhead,
    ask: Callable[[SqlTransaction], Awaitable[tuple[Any, ...]]],
) -> tuple[dict[str, tuple[Any, ...]], dict[str, int]]:
    """What `ask` reads in a write without reads ahead and in one with `ahead`, and how
    many lean reads each sent to the database."""
    answers: dict[str, tuple[Any, ...]] = {}
    sent: dict[str, int] = {}
    for name, hint in (("alone", None), ("ahead", ahead)):
        async with store.write(key(), hint) as tx:
            before = batch.COUNTS.alone
            answers[name] = await ask(tx)
            sent[name] = batch.COUNTS.alone - before
    return answers, sent


async def everything(tx: SqlTransaction, customer_id: str) -> tuple[Any, ...]:
    """What a CreateSubscription asks about its customer, in the order it asks."""
    found = await tx.customers.get("t1", customer_id)
    if found is None:
        return (None,)  # the write stops here
    clock = found.clock_id
    return (
        found,
        None if clock is None else await tx.clocks.get("t1", clock),
        await tx.credit.balance("t1", customer_id, "EUR"),
        await tx.credit.balance("t1", customer_id, "USD"),
        await tx.payment_methods.has_attached("t1", customer_id),
        await tx.mrr.customer("t1", customer_id, "EUR"),
        await tx.mrr.customer("t1", customer_id, "USD"),
    )


@pytest.mark.parametrize("customer_id", ["cus_1", "cus_2", "cus_missing"])
def test_reads_ahead_answer_as_the_reads_themselves_without_a_round_trip(
    postgres: Database, customer_id: str
) -> None:
    both: list[Any] = []

    async def work(store: SqlStore) -> None:
        await seed(store)
        execute(postgres, *SEED_SQL)
        ask = partial(everything, customer_id=customer_id)
        both.extend(await asked_both_ways(store, ReadAhead(customer_id), ask))

    run(postgres, work)
    answers, sent = both
    assert answers["ahead"] == answers["alone"]
    if customer_id == "cus_1":
        assert answers["alone"][1:] == (
            ClockRow("clk_1", "Test clock", CLOCK_NOW, NOW),
            1250,
            40,
            True,
            9900,
            None,
        )
        assert sent == {"alone": 7, "ahead": 1}  # the USD MRR: not the customer's currency
    if customer_id == "cus_2":
        assert answers["alone"][1:] == (None, 0, 0, False, None, None)
        assert sent == {"alone": 6, "ahead": 2}  # the USD balance and MRR
    if customer_id == "cus_missing":
        assert answers["alone"] == (None,)
        assert sent == {"alone": 1, "ahead": 0}


def row_locked(database: Database, rows_sql: str) -> bool:
    """Whether another transaction holds a row `rows_sql` selects (waited for 50 ms)."""
    with psycopg.connect(database.sync_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("set lock_timeout = '50ms'")
        try:
            conn.execute(rows_sql + " for update")
        except psycopg.errors.LockNotAvailable:
            return True
        return False


def locked_during_and_after(
    database: Database,
    seeding: Callable[[SqlStore], Awaitable[None]],
    ahead: ReadAhead,
    rows_sql: str,
) -> list[bool]:
    seen: list[bool] = []

    async def work(store: SqlStore) -> None:
        await seeding(store)
        async with store.write(key(), ahead):
            seen.append(await asyncio.to_thread(row_locked, database, rows_sql))
        seen.append(await asyncio.to_thread(row_locked, database, rows_sql))

    run(database, work)
    return seen


def test_the_credit_read_ahead_is_locked_until_the_write_ends(postgres: Database) -> None:
    credit = (
        "select 1 from customer_credit where tenant_id = 't1'"
        " and customer_id = 'cus_1' and currency = 'EUR'"
    )
    assert locked_during_and_after(postgres, seed, ReadAhead("cus_1"), credit) == [True, False]


def test_rows_read_ahead_are_given_once_and_dropped_by_a_write_to_their_table(
    database: Database,
) -> None:
    params = {"tenant_id": "t1", "id": "cus_2"}
    stale = [("stale",)]
    seen: list[object] = []

    async def work(store: SqlStore) -> None:
        await seed(store)
        async with store.write(key()) as tx:
            conn = tx.connection
            conn.read_ahead(CUSTOMER, params, stale)
            seen.append(await conn.fetch(CUSTOMER, params) == stale)  # given
            seen.append(await conn.fetch(CUSTOMER, params) == stale)  # once
            conn.read_ahead(CUSTOMER, params, stale)
            await tx.credit.set_balance("t1", "cus_9", "EUR", 5)  # another table: kept
            seen.append(await conn.fetch(CUSTOMER, params) == stale)
            conn.read_ahead(CUSTOMER, params, stale)
            renamed = customer("cus_2", name="Renamed")
            assert await tx.customers.update("t1", renamed, 1)  # its table: dropped
            found = await tx.customers.get("t1", "cus_2")
            seen.append(found is not None and found.fields.display_name)

    run(database, work)
    assert seen == [True, False, True, "Renamed"]


@pytest.mark.parametrize("closed", [True, False])
def test_the_books_read_ahead_answer_as_their_own_read_and_hold_their_shared_lock(
    postgres: Database, closed: bool
) -> None:
    seen: list[object] = []
    lock_id = ledger._books_lock_id("t1")

    def exclusive_refused() -> bool:
        with psycopg.connect(postgres.sync_url.replace("+psycopg", ""), autocommit=True) as conn:
            got = conn.execute("select pg_try_advisory_lock(%s)", (lock_id,)).fetchone()
            if got is not None and got[0]:
                conn.execute("select pg_advisory_unlock(%s)", (lock_id,))
                return False
            return True

    async def work(store: SqlStore) -> None:
        if closed:
            async with store.write(None) as tx:
                await tx.journal.close_through("t1", "2026-10", NOW, "finance")
        async with store.write(key()) as tx:
            seen.append(await tx.journal.closed_through("t1", guard=True))
        async with store.write(key(), ReadAhead(books=True)) as tx:
            seen.append(await asyncio.to_thread(exclusive_refused))  # held from the opening
            seen.append(await tx.journal.closed_through("t1", guard=True))
        seen.append(await asyncio.to_thread(exclusive_refused))

    run(postgres, work)
    books = ("2026-10", NOW, "finance") if closed else None
    assert seen == [books, True, books, False]


def subscription(subscription_id: str, customer_id: str, clock_id: str | None) -> Subscription:
    return Subscription(
        id=subscription_id,
        customer_id=customer_id,
        plan_code="pro",
        currency="EUR",
        status=Status.ACTIVE,
        items=(),
        anchor=CLOCK_NOW,
        interval="month",
        interval_count=1,
        time_zone="Europe/Berlin",
        period_start=CLOCK_NOW,
        period_end=datetime(2026, 4, 1, 9, 30, tzinfo=UTC),
        created_at=CLOCK_NOW,
        version=3,
        rule_set="r1",
        clock_id=clock_id,
    )


async def seed_subscriptions(store: SqlStore, database: Database) -> None:
    await seed(store)
    async with store.write(None) as tx:
        await tx.subscriptions.insert("t1", subscription("sub_1", "cus_1", "clk_1"))
        await tx.subscriptions.insert("t1", subscription("sub_2", "cus_2", None))
    execute(
        database,
        "insert into mrr_subscriptions (tenant_id, subscription_id, customer_id, currency,"
        " mrr_minor) values ('t1', 'sub_1', 'cus_1', 'EUR', 4900)",
        "insert into mrr_customers (tenant_id, customer_id, currency, mrr_minor)"
        " values ('t1', 'cus_1', 'EUR', 9900), ('t1', 'cus_1', 'USD', 100)",
    )


async def everything_of(tx: SqlTransaction, subscription_id: str) -> tuple[Any, ...]:
    """What a ChangeSubscription asks about its subscription, in the order it asks."""
    sub = await tx.subscriptions.get("t1", subscription_id, lock=True)
    if sub is None:
        return (None,)
    return (
        sub,
        None if sub.clock_id is None else await tx.clocks.get("t1", sub.clock_id),
        await tx.mrr.position("t1", subscription_id),
        await tx.mrr.customer("t1", sub.customer_id, "EUR"),
        await tx.mrr.customer("t1", sub.customer_id, "USD"),
    )


@pytest.mark.parametrize("subscription_id", ["sub_1", "sub_2", "sub_missing"])
def test_a_subscriptions_reads_ahead_answer_as_the_reads_themselves(
    postgres: Database, subscription_id: str
) -> None:
    both: list[Any] = []

    async def work(store: SqlStore) -> None:
        await seed_subscriptions(store, postgres)
        ahead = ReadAhead(subscription_id=subscription_id)
        ask = partial(everything_of, subscription_id=subscription_id)
        both.extend(await asked_both_ways(store, ahead, ask))

    run(postgres, work)
    answers, sent = both
    assert answers["ahead"] == answers["alone"]
    expected = {
        "sub_1": ((ClockRow("clk_1", "Test clock", CLOCK_NOW, NOW), 4900, 9900, 100), 5),
        "sub_2": ((None, 0, None, None), 4),
        "sub_missing": ((), 1),
    }[subscription_id]
    assert answers["alone"][1:] == expected[0]
    if subscription_id != "sub_missing":
        assert answers["alone"][0] == subscription(
            subscription_id,
            f"cus_{subscription_id[-1]}",
            "clk_1" if subscription_id == "sub_1" else None,
        )
    # every read answered ahead, but the other currency's MRR of a customer without rows
    assert sent == {"alone": expected[1], "ahead": 1 if subscription_id == "sub_2" else 0}


def test_the_subscription_read_ahead_is_locked_until_the_write_ends(postgres: Database) -> None:
    sub = "select 1 from subscriptions where tenant_id = 't1' and id = 'sub_1'"
    ahead = ReadAhead(subscription_id="sub_1")
    seeding = partial(seed_subscriptions, database=postgres)
    assert locked_during_and_after(postgres, seeding, ahead, sub) == [True, False]


def draft(invoice_id: str, customer_id: str) -> Invoice:
    period = (CLOCK_NOW, datetime(2026, 4, 1, 9, 30, tzinfo=UTC))
    lines = (
        Line("Seats", "seat", Decimal(3), Decimal("9.90"), Decimal("29.70"), 2970, *period),
        exact_line("Setup", 500, "EUR", period, LineKind.ONE_OFF, {"why": "setup"}),
    )
    return Invoice(
        id=invoice_id,
        customer_id=customer_id,
        subscription_id=None,
        currency="EUR",
        status=InvoiceStatus.DRAFT,
        billing_reason="manual",
        period_start=period[0],
        period_end=period[1],
        lines=lines,
        settlement=Settlement(3470, 0, 3470, 0),
        rule_set="r1",
        created_at=CLOCK_NOW,
        finalized_at=None,
        version=2,
        memo="by hand",
    )


async def everything_of_invoice(tx: SqlTransaction, invoice_id: str) -> tuple[Any, ...]:
    """What a FinalizeInvoice asks about its invoice and customer, in the order it asks."""
    invoice = await tx.invoices.get("t1", invoice_id, lock=True)
    if invoice is None:
        return (None,)
    found = await tx.customers.get("t1", invoice.customer_id)
    if found is None:
        return (invoice, None)
    return (
        invoice,
        found,
        None if found.clock_id is None else await tx.clocks.get("t1", found.clock_id),
        await tx.credit.balance("t1", found.id, "EUR"),
        await tx.payment_methods.has_attached("t1", found.id),
    )


@pytest.mark.parametrize("invoice_id", ["inv_1", "inv_2", "inv_missing"])
def test_an_invoices_reads_ahead_answer_as_the_reads_themselves(
    postgres: Database, invoice_id: str
) -> None:
    both: list[Any] = []

    async def work(store: SqlStore) -> None:
        await seed(store)
        execute(postgres, *SEED_SQL)
        async with store.write(None) as tx:
            await tx.invoices.insert("t1", draft("inv_1", "cus_1"))
            await tx.invoices.insert("t1", draft("inv_2", "cus_2"))
        ask = partial(everything_of_invoice, invoice_id=invoice_id)
        both.extend(await asked_both_ways(store, ReadAhead(invoice_id=invoice_id), ask))

    run(postgres, work)
    answers, sent = both
    assert answers["ahead"] == answers["alone"]
    expected = {"inv_1": (cus_1_answers(), 6), "inv_2": ((0, False), 5), "inv_missing": ((), 1)}
    tail, reads = expected[invoice_id]
    if invoice_id != "inv_missing":
        customer_id = f"cus_{invoice_id[-1]}"
        assert answers["alone"][0] == draft(invoice_id, customer_id)
        assert answers["alone"][1].id == customer_id
        assert answers["alone"][2 if invoice_id == "inv_1" else 3 :] == tail
    assert sent == {"alone": reads, "ahead": 0}


def cus_1_answers() -> tuple[Any, ...]:
    return (ClockRow("clk_1", "Test clock", CLOCK_NOW, NOW), 1250, True)
