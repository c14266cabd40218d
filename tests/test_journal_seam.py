"""The journal's seam (ADR 0051): the balance rule, the hash chain's bytes, and entries that
round-trip through the store on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from billing.app.books import post
from billing.domain.ledger import (
    ACCOUNTS_RECEIVABLE,
    DEFERRED_REVENUE,
    GENESIS,
    TAX_PAYABLE,
    EntryKind,
    JournalEntry,
    JournalLine,
    UnbalancedEntry,
    account,
    chain_hash,
    entry_problem,
    lines,
    seal,
)
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

AT = datetime(2026, 1, 15, 12, 0, 0, 123456, tzinfo=UTC)


def invoice_entry(entry_id: str = "jrn_01") -> JournalEntry:
    return JournalEntry(
        id=entry_id,
        kind=EntryKind.INVOICE_FINALIZED,
        source="invoices/inv_1",
        posted_at=AT,
        period="2026-01",
        currency="EUR",
        customer_id="cus_1",
        lines=lines(
            (ACCOUNTS_RECEIVABLE, 11900),
            (DEFERRED_REVENUE, -10000),
            (account(TAX_PAYABLE, "DE"), -1900),
        ),
    )


def test_signed_amounts_make_one_sided_lines() -> None:
    assert invoice_entry().lines == (
        JournalLine("accounts_receivable", debit_minor=11900),
        JournalLine("deferred_revenue", credit_minor=10000),
        JournalLine("tax_payable:DE", credit_minor=1900),
    )
    assert entry_problem(invoice_entry()) is None


@pytest.mark.parametrize(
    ("entry_lines", "problem"),
    [
        (lines((ACCOUNTS_RECEIVABLE, 100), (DEFERRED_REVENUE, -99)), "debits 100 != credits 99"),
        (lines((ACCOUNTS_RECEIVABLE, 100)), "at least two lines"),
        ((JournalLine("petty_cash", 5), JournalLine("revenue", 0, 5)), "not a ledger account"),
        ((JournalLine("revenue", 5, 5), JournalLine("revenue", 0, 0)), "both a debit and a credit"),
        ((JournalLine("revenue", -5), JournalLine("bad_debt", 0, -5)), "negative side"),
    ],
)
def test_an_entry_that_does_not_balance_is_refused(
    entry_lines: tuple[JournalLine, ...], problem: str
) -> None:
    from dataclasses import replace

    entry = replace(invoice_entry(), lines=entry_lines)
    assert problem in (entry_problem(entry) or "")


def test_the_chain_covers_every_field_and_the_previous_hash() -> None:
    first = invoice_entry("jrn_01")
    second = invoice_entry("jrn_02")
    seals = seal(None, [first, second])
    assert [s.seq for s in seals] == [1, 2]
    assert seals[0].hash == chain_hash(GENESIS, first)
    assert seals[1].hash == chain_hash(seals[0].hash, second)
    # A changed amount or a changed order gives another chain.
    from dataclasses import replace

    tampered = replace(second, memo="x")
    assert seal(None, [first, tampered])[1].hash != seals[1].hash
    assert seal(None, [second, first])[1].hash != seals[1].hash
    # Continuing a chain from its last seal gives what sealing all at once gives.
    assert seal(seals[0], [second]) == seals[1:]


def test_posting_an_unbalanced_entry_raises_before_any_write() -> None:
    from dataclasses import replace

    class NoStore:
        @property
        def journal(self) -> object:
            raise AssertionError("nothing may reach the store")

    bad = replace(invoice_entry(), lines=lines((ACCOUNTS_RECEIVABLE, 1), (DEFERRED_REVENUE, -2)))
    with pytest.raises(UnbalancedEntry, match="debits 1 != credits 2"):
        asyncio.run(post(NoStore(), "t", [bad]))  # type: ignore[arg-type]


def test_entries_round_trip_and_sum_per_account(
    backend: str, make_database: Callable[[str], object]
) -> None:
    db = make_database(backend)
    tenant = f"t_{uuid.uuid4().hex[:8]}"
    entry = invoice_entry()

    async def main() -> None:
        engine = create_engine(db.async_url)  # type: ignore[attr-defined]
        try:
            store = SqlStore(engine)
            async with store.write(None) as tx:
                await post(tx, tenant, [entry])
            async with store.read() as tx:
                assert await tx.journal.entries(tenant) == [entry]
                assert await tx.journal.entries(tenant, source="invoices/other") == []
                assert await tx.journal.balances(tenant) == [
                    ("accounts_receivable", "EUR", 11900, 0),
                    ("deferred_revenue", "EUR", 0, 10000),
                    ("tax_payable:DE", "EUR", 0, 1900),
                ]
                assert await tx.journal.balances(tenant, at=AT) == []
                assert await tx.journal.balances("someone_else") == []
        finally:
            await engine.dispose()

    asyncio.run(main())
