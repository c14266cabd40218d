"""Where a credit note's money goes: what is still owed first (an open or an uncollectible
invoice), customer credit only for money that was received (paid, or credit applied)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal

import grpc
import pytest

from billing.domain.invoices import Invoice, InvoiceStatus, split_credit
from billing.domain.subscriptions import Line, Settlement
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import money_pb2
from billing_fixtures import Billing, rules
from grpc_helpers import field_violations


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def rid() -> str:
    return uuid.uuid4().hex


def credit(billing: Billing, invoice: ip.Invoice, amount_minor: int) -> ip.CreditNote:
    return billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=invoice.name,
            amount=money_pb2.Money(currency_code="USD", amount_minor=amount_minor),
            reason="dispute",
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )


def get(billing: Billing, invoice: ip.Invoice) -> ip.Invoice:
    return billing.invoices.GetInvoice(
        ip.GetInvoiceRequest(name=invoice.name), metadata=billing.metadata
    )


def uncollectible(billing: Billing, invoice: ip.Invoice) -> ip.Invoice:
    return billing.invoices.MarkUncollectible(
        ip.MarkUncollectibleRequest(name=invoice.name, request_id=rid()),
        metadata=billing.metadata,
    )


def settled(invoice: ip.Invoice) -> tuple[int, int, int]:
    return (invoice.total.amount_minor, invoice.credit_applied.amount_minor,
            invoice.amount_due.amount_minor)  # fmt: skip


def test_a_credit_note_on_an_uncollectible_invoice_writes_off_what_is_owed(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "pro_monthly")
    [april] = billing.invoices_of(sub)
    uncollectible(billing, april)

    note = credit(billing, april, 2000)

    # 50.00 owed and written off; the 20.00 note lowers what is owed to 30.00. Nothing was
    # received, so nothing becomes customer credit.
    assert note.applied_to == "amount_due"
    after = get(billing, april)
    assert (after.status, after.amount_due.amount_minor, after.credited.amount_minor) == (
        ip.UNCOLLECTIBLE,
        3000,
        2000,
    )
    billing.advance(clock, "2026-05-01T00:00:00Z")
    may = billing.invoices_of(sub)[-1]
    assert settled(may) == (5000, 0, 5000)  # no credit was there to apply


def test_credit_on_an_uncollectible_invoice_returns_only_the_credit_that_paid_part_of_it(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "pro_monthly")
    [april] = billing.invoices_of(sub)
    billing.invoices.MarkPaid(
        ip.MarkPaidRequest(name=april.name, payment_reference="wire-1", request_id=rid()),
        metadata=billing.metadata,
    )
    assert credit(billing, april, 1000).applied_to == "credit_balance"  # 10.00 received back
    billing.advance(clock, "2026-05-01T00:00:00Z")
    may = billing.invoices_of(sub)[-1]
    assert settled(may) == (5000, 1000, 4000)  # the 10.00 credit paid part of May
    uncollectible(billing, may)

    with pytest.raises(grpc.RpcError) as failure:
        credit(billing, may, 5001)  # one cent more than the total
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "amount" in field_violations(failure.value)
    note = credit(billing, may, 5000)

    # Of 50.00 credited: 40.00 was owed and is written off; 10.00 had been paid with the
    # customer's credit and goes back to it. June: 50.00 less that 10.00, 40.00 due.
    assert note.applied_to == "credit_balance"
    after = get(billing, may)
    assert (after.amount_due.amount_minor, after.credited.amount_minor) == (0, 5000)
    billing.advance(clock, "2026-06-01T00:00:00Z")
    june = billing.invoices_of(sub)[-1]
    assert settled(june) == (5000, 1000, 4000)


# --- the rule, as a pure function ----------------------------------------------------------

AT = datetime(2026, 4, 1, tzinfo=UTC)


def invoice(status: InvoiceStatus, applied: int, due: int, credited: int = 0) -> Invoice:
    total = 5000
    line = Line("Pro", None, Decimal(1), Decimal(50), Decimal(50), total, AT, AT)
    return Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        currency="USD",
        status=status,
        billing_reason="manual",
        period_start=AT,
        period_end=AT,
        lines=(line,),
        settlement=Settlement(total, applied, due, 0),
        rule_set="r",
        created_at=AT,
        finalized_at=AT,
        credited_minor=credited,
    )


@pytest.mark.parametrize(
    ("status", "applied", "due", "credited", "amount", "split"),
    [
        # open, 50.00 due: 20.00 lowers it to 30.00
        (InvoiceStatus.OPEN, 0, 5000, 0, 2000, (2000, 0)),
        # uncollectible, 50.00 owed: the same, never customer credit
        (InvoiceStatus.UNCOLLECTIBLE, 0, 5000, 0, 5000, (5000, 0)),
        # uncollectible, 10.00 paid by credit, 40.00 owed: 40.00 written off, 10.00 back
        (InvoiceStatus.UNCOLLECTIBLE, 1000, 4000, 0, 5000, (4000, 1000)),
        # paid: all of it was received, all of it becomes credit
        (InvoiceStatus.PAID, 0, 0, 0, 5000, (0, 5000)),
        # paid, 30.00 credited before: 20.00 left, all credit
        (InvoiceStatus.PAID, 0, 0, 3000, 2000, (0, 2000)),
    ],
)
def test_split_credit(status, applied, due, credited, amount, split):
    result = split_credit(invoice(status, applied, due, credited), amount)
    assert (result.to_amount_due_minor, result.to_credit_balance_minor) == split


@pytest.mark.parametrize(
    ("status", "credited", "amount"),
    [
        (InvoiceStatus.OPEN, 0, 5001),  # more than the 50.00 total
        (InvoiceStatus.PAID, 3000, 2001),  # more than the 20.00 left
        (InvoiceStatus.VOID, 0, 1),  # a void invoice takes none
        (InvoiceStatus.DRAFT, 0, 1),  # nor does a draft
    ],
)
def test_split_credit_refuses_more_than_is_creditable(status, credited, amount):
    with pytest.raises(ValueError):
        split_credit(invoice(status, 0, 0, credited), amount)
