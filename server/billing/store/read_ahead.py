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

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Executable

from billing.app.ports import ReadAhead
from billing.store.batch import BatchedConnection
from billing.store.billing import (
    CLOCK,
    CLOCK_OF_CUSTOMER,
    CLOCK_OF_SUBSCRIPTION,
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
# A write about a subscription: the subscription locked (as a change reads it), its clock, its
# MRR and its customer's MRR in every currency.
_MRRS_OF_SUBSCRIPTION = select(mrr_customers.c.currency, mrr_customers.c.mrr_minor).where(
    mrr_customers.c.tenant_id == bindparam("t"),
    mrr_customers.c.customer_id
    == select(subscriptions.c.customer_id)
    .where(subscriptions.c.tenant_id == bindparam("t"), subscriptions.c.id == bindparam("sub"))
    .scalar_subquery(),
)
# A write about an invoice (FinalizeInvoice): the invoice locked, its lines, then its customer's
# row, clock, credit (locked) and attached method, found through the invoice's customer.
_INVOICE_CUSTOMER = (
    select(invoices.c.customer_id)
    .where(invoices.c.tenant_id == bindparam("t"), invoices.c.id == bindparam("id"))
    .scalar_subquery()
)
_CUSTOMER_OF_INVOICE = select(customers).where(
    customers.c.tenant_id == bindparam("t"), customers.c.id == _INVOICE_CUSTOMER
)
_CLOCK_OF_INVOICE = clock_of(
    select(customers.c.clock_id)
    .where(customers.c.tenant_id == bindparam("t"), customers.c.id == _INVOICE_CUSTOMER)
    .scalar_subquery()
)
_CREDITS_OF_INVOICE = (
    select(customer_credit.c.currency, customer_credit.c.balance_minor)
    .where(
        customer_credit.c.tenant_id == bindparam("t"),
        customer_credit.c.customer_id == _INVOICE_CUSTOMER,
    )
    .with_for_update()
)
_METHOD_OF_INVOICE = (
    select(payment_methods.c.id)
    .where(
        payment_methods.c.tenant_id == bindparam("t"),
        payment_methods.c.customer_id == _INVOICE_CUSTOMER,
        payment_methods.c.detached_at.is_(None),
    )
    .limit(1)
)
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
        reads += [
            (CUSTOMER, {"tenant_id": tenant_id, "id": ahead.customer_id}),
            (CLOCK_OF_CUSTOMER, of_customer),
            (_CREDITS, of_customer),
            (HAS_ATTACHED, of_customer),
            (_MRRS, of_customer),
        ]
    if ahead.subscription_id is not None:
        of_subscription = {"t": tenant_id, "sub": ahead.subscription_id}
        reads += [
            (GET_SUBSCRIPTION_LOCKED, {"t": tenant_id, "id": ahead.subscription_id}),
            (CLOCK_OF_SUBSCRIPTION, of_subscription),
            (POSITION, of_subscription),
            (_MRRS_OF_SUBSCRIPTION, of_subscription),
        ]
    if ahead.invoice_id is not None:
        of_invoice = {"t": tenant_id, "id": ahead.invoice_id}
        reads += [
            (GET_INVOICE_LOCKED, of_invoice),
            (GET_LINES, of_invoice),
            (_CUSTOMER_OF_INVOICE, of_invoice),
            (_CLOCK_OF_INVOICE, of_invoice),
            (_CREDITS_OF_INVOICE, of_invoice),
            (_METHOD_OF_INVOICE, of_invoice),
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
        _customer(conn, tenant_id, ahead.customer_id, results[:5])
        results = results[5:]
    if ahead.subscription_id is not None:
        _subscription(conn, tenant_id, ahead.subscription_id, results[:4])
        results = results[4:]
    if ahead.invoice_id is not None:
        _invoice(conn, tenant_id, ahead.invoice_id, results)


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
    # The write asks in the subscription's currency, which is the customer's.
    _by_currency(conn, CREDIT_BALANCE, of_customer, currency, credits)
    _by_currency(conn, CUSTOMER_MRR, of_customer, currency, mrrs)


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
    invoice, lines, customer, clock, credits, methods = results
    of_invoice = {"t": tenant_id, "id": invoice_id}
    conn.read_ahead(GET_INVOICE_LOCKED, of_invoice, invoice)
    conn.read_ahead(GET_LINES, of_invoice, lines)
    if not invoice:
        return
    customer_id = invoice[0][_INVOICE_CUSTOMER_ID]
    conn.read_ahead(CUSTOMER, {"tenant_id": tenant_id, "id": customer_id}, customer)
    if not customer:
        return
    of_customer = {"t": tenant_id, "customer": customer_id}
    conn.read_ahead(HAS_ATTACHED, of_customer, methods)
    if (clock_id := customer[0][_CLOCK_ID]) is not None:
        conn.read_ahead(CLOCK, {"t": tenant_id, "id": clock_id}, clock)
    _by_currency(conn, CREDIT_BALANCE, of_customer, invoice[0][_INVOICE_CURRENCY], credits)
