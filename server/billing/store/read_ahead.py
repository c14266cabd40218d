"""A write's reads about its customer, subscription or invoice and the books, sent with its
opening query (ADR 0069).

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

from sqlalchemy import Select, bindparam, select
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import BindParameter

from billing.app.ports import ReadAhead
from billing.store.batch import BatchedConnection
from billing.store.billing import (
    CLOCK,
    CREDIT_BALANCE,
    GET_INVOICE_LOCKED,
    GET_LINES,
    GET_SUBSCRIPTION_LOCKED,
    clock_of,
)
from billing.store.customers import COLUMNS as CUSTOMER_COLUMNS
from billing.store.customers import GET as CUSTOMER
from billing.store.ledger import SqlJournal, books_ahead
from billing.store.mrr import CUSTOMER_MRR, POSITION
from billing.store.payments import HAS_ATTACHED
from billing.store.schema import (
    customer_credit,
    customers,
    invoices,
    mrr_customers,
    payment_methods,
    subscriptions,
)

Rows = list[tuple[Any, ...]]


def _customer_reads(customer_id: Any) -> tuple[Select[Any], ...]:
    """A customer's reads, the customer found by `customer_id` (a parameter, or a subquery
    through the row a write is about), in the order `_customer` takes their rows: its row,
    its clock, its credit rows in every currency (locked, as CREDIT_BALANCE locks them: the
    invoice that reads one also writes it), one attached payment method, its MRR rows in
    every currency."""
    tenant: BindParameter[Any] = bindparam("t")
    cc, mc, pm = customer_credit, mrr_customers, payment_methods
    return (
        select(customers).where(customers.c.tenant_id == tenant, customers.c.id == customer_id),
        clock_of(
            select(customers.c.clock_id)
            .where(customers.c.tenant_id == tenant, customers.c.id == customer_id)
            .scalar_subquery()
        ),
        select(cc.c.currency, cc.c.balance_minor)
        .where(cc.c.tenant_id == tenant, cc.c.customer_id == customer_id)
        .with_for_update(),
        select(pm.c.id)
        .where(
            pm.c.tenant_id == tenant, pm.c.customer_id == customer_id, pm.c.detached_at.is_(None)
        )
        .limit(1),
        select(mc.c.currency, mc.c.mrr_minor).where(
            mc.c.tenant_id == tenant, mc.c.customer_id == customer_id
        ),
    )


def _of(table: Any, column: Any, key: str) -> Any:
    """`column` of the tenant's `table` row whose id is the parameter `key`, as a subquery."""
    return (
        select(column)
        .where(table.c.tenant_id == bindparam("t"), table.c.id == bindparam(key))
        .scalar_subquery()
    )


# A write about a customer (CreateSubscription): all of its reads.
_OF_CUSTOMER = _customer_reads(bindparam("customer"))
# A write about a subscription (ChangeSubscription): the subscription locked (as a change reads
# it), its own clock, its MRR, and its customer's MRR.
_CLOCK_OF_SUBSCRIPTION = clock_of(_of(subscriptions, subscriptions.c.clock_id, "sub"))
_MRRS_OF_SUBSCRIPTION = _customer_reads(_of(subscriptions, subscriptions.c.customer_id, "sub"))[4]
# A write about an invoice (FinalizeInvoice): the invoice locked, its lines, and its customer's
# reads but the MRR (a finalize does not move it).
_OF_INVOICE = _customer_reads(_of(invoices, invoices.c.customer_id, "id"))[:4]
_INVOICE_CUSTOMER_ID = [c.name for c in invoices.columns].index("customer_id")
_INVOICE_CURRENCY = [c.name for c in invoices.columns].index("currency")
_SUB_CUSTOMER = [c.name for c in subscriptions.columns].index("customer_id")
_SUB_CURRENCY = [c.name for c in subscriptions.columns].index("currency")
_SUB_CLOCK_ID = [c.name for c in subscriptions.columns].index("clock_id")
_CURRENCY = CUSTOMER_COLUMNS.index("currency_code")
_CLOCK_ID = CUSTOMER_COLUMNS.index("clock_id")


def statements(tenant_id: str, ahead: ReadAhead) -> list[tuple[Executable, dict[str, Any]]]:
    """The reads, in the order `receive` takes their rows."""
    reads = books_ahead(tenant_id) if ahead.books else []
    if ahead.customer_id is not None:
        of_customer = {"t": tenant_id, "customer": ahead.customer_id}
        reads += [(statement, of_customer) for statement in _OF_CUSTOMER]
    if ahead.subscription_id is not None:
        of_subscription = {"t": tenant_id, "sub": ahead.subscription_id}
        reads += [
            (GET_SUBSCRIPTION_LOCKED, {"t": tenant_id, "id": ahead.subscription_id}),
            (_CLOCK_OF_SUBSCRIPTION, of_subscription),
            (POSITION, of_subscription),
            (_MRRS_OF_SUBSCRIPTION, of_subscription),
        ]
    if ahead.invoice_id is not None:
        of_invoice = {"t": tenant_id, "id": ahead.invoice_id}
        reads += [(GET_INVOICE_LOCKED, of_invoice), (GET_LINES, of_invoice)]
        reads += [(statement, of_invoice) for statement in _OF_INVOICE]
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
        _customer(conn, tenant_id, ahead.customer_id, results[:5])
        results = results[5:]
    if ahead.subscription_id is not None:
        _subscription(conn, tenant_id, ahead.subscription_id, results[:4])
        results = results[4:]
    if ahead.invoice_id is not None:
        _invoice(conn, tenant_id, ahead.invoice_id, results)


def _customer(
    conn: BatchedConnection,
    tenant_id: str,
    customer_id: str,
    results: Sequence[Rows],
    currency: str | None = None,
) -> None:
    """The rows of `_customer_reads` (with or without the MRR), registered for the customer's
    repositories. `currency`: the one the write asks credit in; by default the customer's
    own (a subscription's currency is its customer's)."""
    customer, clock, credits, methods, *mrrs = results
    of_customer = {"t": tenant_id, "customer": customer_id}
    conn.read_ahead(CUSTOMER, {"tenant_id": tenant_id, "id": customer_id}, customer)
    conn.read_ahead(HAS_ATTACHED, of_customer, methods)
    if not customer:
        return  # the write fails on the missing customer; nothing else is asked
    currency = currency or customer[0][_CURRENCY]
    if (clock_id := customer[0][_CLOCK_ID]) is not None:
        conn.read_ahead(CLOCK, {"t": tenant_id, "id": clock_id}, clock)
    _by_currency(conn, CREDIT_BALANCE, of_customer, currency, credits)
    for rows in mrrs:
        _by_currency(conn, CUSTOMER_MRR, of_customer, currency, rows)


def _subscription(
    conn: BatchedConnection, tenant_id: str, subscription_id: str, results: Sequence[Rows]
) -> None:
    sub, clock, position, mrrs = results
    conn.read_ahead(GET_SUBSCRIPTION_LOCKED, {"t": tenant_id, "id": subscription_id}, sub)
    conn.read_ahead(POSITION, {"t": tenant_id, "sub": subscription_id}, position)
    if not sub:
        return
    customer_id, currency = sub[0][_SUB_CUSTOMER], sub[0][_SUB_CURRENCY]
    if (clock_id := sub[0][_SUB_CLOCK_ID]) is not None:
        conn.read_ahead(CLOCK, {"t": tenant_id, "id": clock_id}, clock)
    of_customer = {"t": tenant_id, "customer": customer_id}
    _by_currency(conn, CUSTOMER_MRR, of_customer, currency, mrrs)


def _by_currency(
    conn: BatchedConnection,
    statement: Executable,
    params: dict[str, Any],
    currency: str,
    rows: Rows,
) -> None:
    """A per-currency read answered from rows of (currency, value) in every currency: each
    currency found, and `currency` (the one the write asks in) even without a row."""
    found = {row[0]: [(row[1],)] for row in rows}
    found.setdefault(currency, [])
    for code, answer in found.items():
        conn.read_ahead(statement, {**params, "currency": code}, answer)


def _invoice(
    conn: BatchedConnection, tenant_id: str, invoice_id: str, results: Sequence[Rows]
) -> None:
    invoice, lines, *of_customer = results
    of_invoice = {"t": tenant_id, "id": invoice_id}
    conn.read_ahead(GET_INVOICE_LOCKED, of_invoice, invoice)
    conn.read_ahead(GET_LINES, of_invoice, lines)
    if invoice:
        customer_id, currency = invoice[0][_INVOICE_CUSTOMER_ID], invoice[0][_INVOICE_CURRENCY]
        _customer(conn, tenant_id, customer_id, of_customer, currency)
