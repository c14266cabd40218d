"""An invoice numbered at commit while its insert still waits in the batch (PostgreSQL, ADR
0070): the insert moves to the end of the transaction and bumps the tenant's counter itself,
in place of an insert, migration 0010's deferred trigger and an update of the new row. Where
the move could be seen (the batch was flushed before the commit, another waiting statement
names the invoices), the trigger numbers it as before; either way the numbers stay gapless
and a rolled-back transaction takes none."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from billing.app.ports import IdempotencyKey
from billing.domain.invoices import Invoice, InvoiceStatus, Settlement
from billing.store import batch
from billing.store.billing import _INSERT_INVOICE, _MARK_NUMBER_AT_COMMIT
from billing.store.sql_store import SqlStore, SqlTransaction
from conftest import Database
from store_run import run_with_store as run

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
FORMAT = "INV-2026-{seq:04d}"


@pytest.fixture
def postgres(make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database("postgresql")


@pytest.fixture
def texts() -> Iterator[list[str]]:
    """What the batches sent, as `billing.bench.statements` sees it."""
    batch.COUNTS.keep_texts, batch.COUNTS.recent = True, []
    yield batch.COUNTS.recent
    batch.COUNTS.keep_texts, batch.COUNTS.recent = False, []


def open_invoice(invoice_id: str) -> Invoice:
    return Invoice(
        id=invoice_id,
        customer_id="cus_1",
        subscription_id=None,
        currency="EUR",
        status=InvoiceStatus.OPEN,
        billing_reason="manual",
        period_start=NOW,
        period_end=NOW,
        lines=(),
        settlement=Settlement(0, 0, 0, 0),
        rule_set="r1",
        created_at=NOW,
        finalized_at=NOW,
        version=1,
    )


def key() -> IdempotencyKey:
    return IdempotencyKey("t1", "CreateInvoice", uuid.uuid4().hex)


async def insert_numbered(tx: SqlTransaction, invoice_id: str) -> None:
    await tx.invoices.insert("t1", open_invoice(invoice_id))
    assert await tx.numbering.number_at_commit("t1", invoice_id, 2026, FORMAT)


def invoices(database: Database) -> list[tuple[object, ...]]:
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            query = "select id, number, number_format, memo from invoices order by id"
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()


def held(texts: list[str]) -> int:
    return sum(text.startswith("[batched, held]") for text in texts)


def test_a_waiting_invoice_is_inserted_numbered_last(postgres: Database, texts: list[str]) -> None:
    """Numbered by its own insert, sent after the other deferred writes, with the changes
    made to its waiting row after it was held; one statement where the trigger took three."""

    prepared: list[int] = []

    async def work(store: SqlStore) -> None:
        for invoice_id in ("in_1", "in_2"):
            async with store.write(key()) as tx:
                await insert_numbered(tx, invoice_id)
                waiting = tx.connection.batch.waiting_row(_INSERT_INVOICE, id=invoice_id)
                assert waiting is not None
                waiting.update(memo=f"changed after {invoice_id} was held")
        async with store.write(None) as tx:  # the same pooled connection
            found = await tx.connection.execute(
                sa.text(
                    "select count(*) from pg_prepared_statements"
                    " where statement like '%PREPARE billing\\_% AS WITH c AS%'"
                )
            )
            prepared.append(found.scalar_one())

    run(postgres, work)
    assert held(texts) == 2
    assert prepared == [1]  # prepared once, by the first (ADR 0072), executed by both
    assert texts[-1].startswith("[batched, held] WITH c AS ( INSERT INTO number_counters")
    assert invoices(postgres) == [
        ("in_1", "INV-2026-0001", None, "changed after in_1 was held"),
        ("in_2", "INV-2026-0002", None, "changed after in_2 was held"),
    ]


def test_where_the_move_could_be_seen_the_trigger_numbers_it(
    postgres: Database, texts: list[str]
) -> None:
    """A flush before the commit sends the row where it waits (marked), and so does another
    waiting statement naming the invoices: the deferred trigger numbers both, in commit
    order, after the one numbered by its insert."""

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await insert_numbered(tx, "in_1")
        async with store.write(key()) as tx:
            await insert_numbered(tx, "in_2")
            await tx.connection.flush()  # not the commit
        async with store.write(key()) as tx:
            await insert_numbered(tx, "in_3")
            # another invoice marked by an update waiting behind the insert: it names the table
            tx.connection.defer(
                _MARK_NUMBER_AT_COMMIT,
                {"t": "t1", "invoice_id": "in_0", "number_format": FORMAT, "number_year": 2026},
            )

    run(postgres, work)
    assert held(texts) == 1
    assert invoices(postgres) == [
        ("in_1", "INV-2026-0001", None, None),
        ("in_2", "INV-2026-0002", None, None),
        ("in_3", "INV-2026-0003", None, None),
    ]


def test_a_rolled_back_transaction_takes_no_number(postgres: Database, texts: list[str]) -> None:
    async def work(store: SqlStore) -> None:
        with pytest.raises(IntegrityError):
            async with store.write(key()) as tx:
                await insert_numbered(tx, "in_1")
                await tx.invoices.insert("t1", open_invoice("in_1"))  # its primary key again
        async with store.write(key()) as tx:
            await insert_numbered(tx, "in_2")

    run(postgres, work)
    assert invoices(postgres) == [("in_2", "INV-2026-0001", None, None)]
