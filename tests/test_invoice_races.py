"""Every invoice transition is a compare-and-set: twenty callers racing over the real channel,
each with its own request id, leave exactly one winner (credit notes: never more credit than
the invoice's total), one event and one audit record per winning transition, and the
tenant's invoice and credit-note numbers still a gapless series.

On PostgreSQL the callers really run side by side (the server takes them on one event loop,
each in its own transaction); on SQLite writes take turns, which must give the same result.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import grpc
import pytest
import sqlalchemy as sa

from billing_client.v1 import customers_pb2, money_pb2
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, rules
from grpc_helpers import field_violations

CALLERS = 20
LOSER_CODES = {grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ABORTED}


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def rid() -> str:
    return uuid.uuid4().hex


def race(call: Callable[[str], Any]) -> tuple[list[Any], list[grpc.RpcError]]:
    """`call(request_id)` by CALLERS threads released at once; (answers, errors)."""
    start = threading.Barrier(CALLERS)

    def one(_: int) -> Any:
        start.wait(timeout=30)
        try:
            return call(rid())
        except grpc.RpcError as error:
            return error

    with ThreadPoolExecutor(CALLERS) as pool:
        results = list(pool.map(one, range(CALLERS)))
    errors = [r for r in results if isinstance(r, grpc.RpcError)]
    return [r for r in results if not isinstance(r, grpc.RpcError)], errors


@contextmanager
def database(server) -> Iterator[sa.Connection]:
    engine = sa.create_engine(server.database.sync_url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def count(conn: sa.Connection, table: str, column: str, value: str, resource: str) -> int:
    return int(
        conn.execute(
            sa.text(f"SELECT count(*) FROM {table} WHERE resource_name = :r AND {column} = :v"),
            {"r": resource, "v": value},
        ).scalar_one()
    )


def assert_gapless(conn: sa.Connection, tenant_id: str) -> None:
    """The tenant's invoice and credit-note numbers: per series and year 1, 2, …, n, each
    once, and the counter row at n."""
    numbers = [
        *conn.execute(
            sa.text("SELECT number FROM invoices WHERE tenant_id = :t AND number IS NOT NULL"),
            {"t": tenant_id},
        ).scalars(),
        *conn.execute(
            sa.text("SELECT number FROM credit_notes WHERE tenant_id = :t"), {"t": tenant_id}
        ).scalars(),
    ]
    series: dict[str, list[int]] = {}
    for number in numbers:
        match = re.fullmatch(r"(.*-)(\d+)", number)
        assert match, number
        series.setdefault(match.group(1), []).append(int(match.group(2)))
    for prefix, seqs in series.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), (prefix, sorted(seqs))
    counters = conn.execute(
        sa.text("SELECT series, year, last FROM number_counters WHERE tenant_id = :t"),
        {"t": tenant_id},
    ).all()
    assert sorted(last for _, _, last in counters) == sorted(len(s) for s in series.values())


def open_invoice(billing: Billing) -> ip.Invoice:
    """Pro monthly from 2026-04-01: its creation invoice, open, total and due 50.00."""
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    [invoice] = billing.invoices_of(billing.subscribe(billing.customer(clock), "pro_monthly"))
    assert (invoice.status, invoice.total.amount_minor, invoice.amount_due.amount_minor) == (
        ip.OPEN,
        5000,
        5000,
    )
    return invoice


def test_twenty_finalizers_of_one_draft_leave_one_number(billing, server, tenant):
    billing.push(rules())
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(display_name="Acme", currency_code="USD"),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()), metadata=billing.metadata
    )
    billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=draft.name, description="Setup", unit_amount="12.00", request_id=rid()
        ),
        metadata=billing.metadata,
    )

    won, lost = race(
        lambda request_id: billing.invoices.FinalizeInvoice(
            ip.FinalizeInvoiceRequest(name=draft.name, request_id=request_id),
            metadata=billing.metadata,
        )
    )

    assert len(won) == 1, [w.number for w in won]
    assert {e.code() for e in lost} <= LOSER_CODES, {e.code() for e in lost}
    # The first number of the tenant's series (this year's); 12.00 due.
    assert re.fullmatch(r"INV-\d{4}-000001", won[0].number), won[0].number
    assert won[0].amount_due.amount_minor == 1200
    stored = billing.invoices.GetInvoice(
        ip.GetInvoiceRequest(name=draft.name), metadata=billing.metadata
    )
    assert (stored.status, stored.number) == (ip.OPEN, won[0].number)
    with database(server) as conn:
        assert count(conn, "outbox_events", "event_type", "invoice.finalized", draft.name) == 1
        assert count(conn, "outbox_events", "event_type", "invoice.payment_due", draft.name) == 1
        assert count(conn, "audit_log", "action", "finalize", draft.name) == 1
        assert_gapless(conn, tenant.id)


@pytest.mark.parametrize(
    ("method", "request_type", "fields", "status", "event"),
    [
        ("VoidInvoice", ip.VoidInvoiceRequest, {}, ip.VOID, "void"),
        ("MarkPaid", ip.MarkPaidRequest, {"payment_reference": "wire-7"}, ip.PAID, "paid"),
        (
            "MarkUncollectible",
            ip.MarkUncollectibleRequest,
            {},
            ip.UNCOLLECTIBLE,
            "uncollectible",
        ),
    ],
)
def test_twenty_callers_moving_one_invoice_leave_one_winner(
    billing, server, tenant, method, request_type, fields, status, event
):
    invoice = open_invoice(billing)
    call = getattr(billing.invoices, method)

    won, lost = race(
        lambda request_id: call(
            request_type(name=invoice.name, request_id=request_id, **fields),
            metadata=billing.metadata,
        )
    )

    assert len(won) == 1
    assert {e.code() for e in lost} <= LOSER_CODES, {e.code() for e in lost}
    assert len(lost) == CALLERS - 1
    assert won[0].status == status
    stored = billing.invoices.GetInvoice(
        ip.GetInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )
    # Created at version 1, one move: version 2.
    assert (stored.status, stored.etag, stored.number) == (status, 'W/"2"', invoice.number)
    with database(server) as conn:
        assert count(conn, "outbox_events", "event_type", f"invoice.{event}", invoice.name) == 1
        assert count(conn, "audit_log", "action", event, invoice.name) == 1
        assert_gapless(conn, tenant.id)


def test_twenty_credit_notes_never_credit_more_than_the_total(billing, server, tenant):
    invoice = open_invoice(billing)

    won, lost = race(
        lambda request_id: billing.invoices.CreateCreditNote(
            ip.CreateCreditNoteRequest(
                invoice=invoice.name,
                amount=money_pb2.Money(currency_code="USD", amount_minor=1000),
                reason="race",
                request_id=request_id,
            ),
            metadata=billing.metadata,
        )
    )

    # 50.00 takes five notes of 10.00; the other fifteen would exceed it (or gave up).
    assert sum(n.amount.amount_minor for n in won) <= 5000
    assert len(won) == 5
    for error in lost:
        assert error.code() in {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ABORTED}
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
            assert "amount" in field_violations(error)
    assert sorted(n.number for n in won) == [f"CN-2026-00000{n}" for n in range(1, 6)]
    assert {n.applied_to for n in won} == {"amount_due"}
    stored = billing.invoices.GetInvoice(
        ip.GetInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )
    # 50.00 due, five notes of 10.00 credited: nothing left due.
    assert (stored.credited.amount_minor, stored.amount_due.amount_minor) == (5000, 0)
    with database(server) as conn:
        noted = conn.execute(
            sa.text("SELECT sum(amount_minor) FROM credit_notes WHERE tenant_id = :t"),
            {"t": tenant.id},
        ).scalar_one()
        assert int(noted) == stored.credited.amount_minor
        for note in won:
            assert count(conn, "outbox_events", "event_type", "credit_note.created", note.name) == 1
            assert count(conn, "audit_log", "action", "credit", note.name) == 1
        assert_gapless(conn, tenant.id)
