"""A write's reads about its customer and the books, sent with its opening query (ADR 0069).

CreateSubscription read its customer, the customer's clock, credit balance, attached payment
methods and MRR one round trip each, after the opening query: five trips through a busy event
loop, each costing the server a send, a poll and a result, and PostgreSQL a query of its own.
Here the same rows are read by statements that need only the customer's id, placed after the
key's lock in the opening query, and handed to the transaction's connection as what each
repository's own `fetch` would have read (`BatchedConnection.read_ahead`): given once, and
dropped by any write to their tables first.

The credit rows are locked here, as the balance's own read locks them, and so are the books
(shared), as posting to the journal takes them; the locks are taken earlier in the
transaction than before and held to its end as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Executable

from billing.app.ports import ReadAhead
from billing.store.batch import BatchedConnection
from billing.store.billing import CLOCK, CLOCK_OF_CUSTOMER, CREDIT_BALANCE
from billing.store.customers import COLUMNS as CUSTOMER_COLUMNS
from billing.store.customers import GET as CUSTOMER
from billing.store.ledger import SqlJournal, books_ahead
from billing.store.mrr import CUSTOMER_MRR
from billing.store.payments import HAS_ATTACHED
from billing.store.schema import customer_credit, mrr_customers

Rows = list[tuple[Any, ...]]

_CREDITS = (
    select(customer_credit.c.currency, customer_credit.c.balance_minor)
    .where(
        customer_credit.c.tenant_id == bindparam("t"),
        customer_credit.c.customer_id == bindparam("customer"),
    )
    .with_for_update()  # as CREDIT_BALANCE: the invoice that reads it also writes it
)
_MRRS = select(mrr_customers.c.currency, mrr_customers.c.mrr_minor).where(
    mrr_customers.c.tenant_id == bindparam("t"),
    mrr_customers.c.customer_id == bindparam("customer"),
)
_CURRENCY = CUSTOMER_COLUMNS.index("currency_code")
_CLOCK_ID = CUSTOMER_COLUMNS.index("clock_id")


def statements(tenant_id: str, ahead: ReadAhead) -> list[tuple[Executable, dict[str, Any]]]:
    """The reads, in the order `receive` takes their rows."""
    reads = books_ahead(tenant_id) if ahead.books else []
    if ahead.customer_id is not None:
        of_customer = {"t": tenant_id, "customer": ahead.customer_id}
        reads += [
            (CUSTOMER, {"tenant_id": tenant_id, "id": ahead.customer_id}),
            (CLOCK_OF_CUSTOMER, of_customer),
            (_CREDITS, of_customer),
            (HAS_ATTACHED, of_customer),
            (_MRRS, of_customer),
        ]
    return reads


def receive(
    conn: BatchedConnection,
    journal: SqlJournal,
    tenant_id: str,
    ahead: ReadAhead,
    results: Sequence[Rows],
) -> None:
    """Each repository read these rows answer, registered with the rows it would read."""
    if ahead.books:
        _lock, books, *results = results
        journal.books_read_ahead(tenant_id, books)
    if ahead.customer_id is not None:
        _customer(conn, tenant_id, ahead.customer_id, results)


def _customer(
    conn: BatchedConnection, tenant_id: str, customer_id: str, results: Sequence[Rows]
) -> None:
    customer, clock, credits, methods, mrrs = results
    of_customer = {"t": tenant_id, "customer": customer_id}
    conn.read_ahead(CUSTOMER, {"tenant_id": tenant_id, "id": customer_id}, customer)
    conn.read_ahead(HAS_ATTACHED, of_customer, methods)
    if not customer:
        return  # the write fails on the missing customer; nothing else is asked
    currency, clock_id = customer[0][_CURRENCY], customer[0][_CLOCK_ID]
    if clock_id is not None:
        conn.read_ahead(CLOCK, {"t": tenant_id, "id": clock_id}, clock)
    # Every currency the customer has rows in, and its own currency even without one: the
    # write asks in the subscription's currency, which is the customer's.
    for statement, rows in ((CREDIT_BALANCE, credits), (CUSTOMER_MRR, mrrs)):
        found = {row[0]: [(row[1],)] for row in rows}
        found.setdefault(currency, [])
        for code, answer in found.items():
            conn.read_ahead(statement, {**of_customer, "currency": code}, answer)
