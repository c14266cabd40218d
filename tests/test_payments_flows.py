"""Payments core flows (ADR 0034) over real gRPC on both backends: the reconciler settling
unknown and pending attempts by status lookups, automatic collection at finalization,
manual payments across invoices with overpayment to credit, credit notes on partly paid
invoices, and the trial end that now sees an attached method."""

from __future__ import annotations

import grpc
import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import Server, Tenant
from grpc_helpers import field_violations
from payments_fixtures import (
    Payments,
    credit_balance,
    events,
    payment_rules,
    rid,
    usd,
)

START = "2026-04-01T00:00:00Z"


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def setup(channel, billing: Billing, invoicing: str | None = None):  # type: ignore[no-untyped-def]
    billing.push(payment_rules() if invoicing is None else payment_rules(invoicing))
    payments = Payments(channel, billing)
    clock = billing.clock(START)
    customer = billing.customer(clock)
    return payments, clock, customer


# --- reconcile ------------------------------------------------------------------------------


def test_unknown_is_settled_by_a_lookup_not_a_second_charge(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, clock, customer = setup(channel, billing)
    sub = billing.subscribe(customer, "pro_monthly")
    [invoice] = billing.invoices_of(sub)
    attempt = payments.pay(invoice, payments.attach(customer, "tok_timeout_charged"))
    assert (attempt.status, attempt.lookups) == (pp.UNKNOWN, 0)
    billing.advance(clock, "2026-04-01T00:01:00Z")  # the first lookup is due at +30 s
    settled = payments.attempt(attempt)
    assert (settled.status, settled.lookups) == (pp.SUCCEEDED, 1)
    paid = payments.invoice(invoice)
    assert (paid.status, paid.amount_paid.amount_minor) == (ip.PAID, 5000)
    [payment] = payments.payments_of(invoice)
    assert payment.payment_attempt == attempt.name
    assert sorted(events(server, tenant.id, attempt.name)) == [
        "payment_attempt.pending",
        "payment_attempt.succeeded",
        "payment_attempt.unknown",
    ]


def test_not_found_after_the_window_fails_never_charged_and_frees_the_invoice(
    channel, billing: Billing
) -> None:
    payments, clock, customer = setup(channel, billing)
    sub = billing.subscribe(customer, "pro_monthly")
    [invoice] = billing.invoices_of(sub)
    attempt = payments.pay(invoice, payments.attach(customer, "tok_timeout_not_charged"))
    assert attempt.status == pp.UNKNOWN
    billing.advance(clock, "2026-04-01T00:03:00Z")  # lookups at +30 s and +2 min: not found yet
    waiting = payments.attempt(attempt)
    assert (waiting.status, waiting.lookups) == (pp.UNKNOWN, 2)
    billing.advance(clock, "2026-04-01T00:11:00Z")  # +10 min: past not_found_after
    failed = payments.attempt(attempt)
    assert (failed.status, failed.decline_code, failed.lookups) == (pp.FAILED, "never_charged", 3)
    assert payments.invoice(invoice).status == ip.OPEN
    retry = payments.pay(invoice, payments.attach(customer, "tok_visa"))
    assert retry.status == pp.SUCCEEDED
    assert payments.invoice(invoice).amount_paid.amount_minor == 5000


def test_late_success_is_found_on_the_second_lookup(channel, billing: Billing) -> None:
    payments, clock, customer = setup(channel, billing)
    sub = billing.subscribe(customer, "pro_monthly")
    [invoice] = billing.invoices_of(sub)
    attempt = payments.pay(invoice, payments.attach(customer, "tok_late_success"))
    assert attempt.status == pp.PENDING
    billing.advance(clock, "2026-04-01T00:01:00Z")
    assert (payments.attempt(attempt).status, payments.attempt(attempt).lookups) == (
        pp.PENDING,
        1,
    )
    assert payments.invoice(invoice).status == ip.OPEN
    billing.advance(clock, "2026-04-01T00:03:00Z")
    done = payments.attempt(attempt)
    assert (done.status, done.lookups) == (pp.SUCCEEDED, 2)
    assert payments.invoice(invoice).status == ip.PAID
    assert len(payments.payments_of(invoice)) == 1


# --- automatic collection -----------------------------------------------------------------


def test_automatic_collection_charges_the_first_invoice_through_the_default_method(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, clock, customer = setup(channel, billing, "kind: invoicing\ntime_zone: utc\n")
    method = payments.attach(customer, "tok_visa")
    sub = billing.subscribe(customer, "pro_monthly")
    billing.advance(clock, "2026-04-01T00:00:01Z")  # the collection item is due at once
    [invoice] = billing.invoices_of(sub)
    assert (invoice.status, invoice.amount_paid.amount_minor) == (ip.PAID, 5000)
    [attempt] = payments.attempts_of(invoice)
    assert (attempt.status, attempt.source, attempt.payment_method) == (
        pp.SUCCEEDED,
        "automatic_collection",
        method.name,
    )
    # The subscription's own default is charged before the customer's.
    declining = payments.attach(customer, "tok_do_not_honor")
    payments.stub.SetDefaultPaymentMethod(
        pp.SetDefaultPaymentMethodRequest(
            payment_method=declining.name, subscription=sub.name, request_id=rid()
        ),
        metadata=payments.metadata,
    )
    billing.advance(clock, "2026-05-01T00:00:01Z")
    renewal = billing.invoices_of(sub)[-1]
    [declined] = payments.attempts_of(renewal)
    assert (declined.status, declined.decline_code, declined.payment_method) == (
        pp.FAILED,
        "do_not_honor",
        declining.name,
    )
    assert payments.invoice(renewal).status == ip.OPEN


def test_automatic_collection_without_a_method_leaves_the_invoice_open(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, clock, customer = setup(channel, billing, "kind: invoicing\ntime_zone: utc\n")
    sub = billing.subscribe(customer, "pro_monthly")
    billing.advance(clock, "2026-04-01T00:00:01Z")
    [invoice] = billing.invoices_of(sub)
    assert invoice.status == ip.OPEN
    assert payments.attempts_of(invoice) == []
    assert events(server, tenant.id, invoice.name).count("invoice.payment_method_missing") == 1


# --- manual payments ----------------------------------------------------------------------


def test_record_payment_pays_oldest_first_and_credits_the_rest(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, _, customer = setup(channel, billing)
    [older] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))  # 50.00
    [newer] = billing.invoices_of(billing.subscribe(customer, "basic_monthly"))  # 30.00
    payment = payments.record(customer, 10000)
    assert (payment.source, payment.method, payment.reference) == (
        "manual",
        "bank_transfer",
        "wire-2026-001",
    )
    assert sorted((a.invoice, a.amount.amount_minor) for a in payment.allocations) == sorted(
        [(older.name, 5000), (newer.name, 3000)]
    )
    assert payment.to_credit.amount_minor == 2000
    for invoice in (older, newer):
        after = payments.invoice(invoice)
        assert (after.status, after.amount_remaining.amount_minor) == (ip.PAID, 0)
    assert credit_balance(server, tenant.id, customer) == 2000
    assert events(server, tenant.id, customer.name).count("customer.credit_added") == 1
    assert events(server, tenant.id, payment.name) == ["payment.received"]


def test_record_payment_named_allocations_partly_pay_and_are_capped(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, _, customer = setup(channel, billing)
    [first] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
    [second] = billing.invoices_of(billing.subscribe(customer, "basic_monthly"))
    with pytest.raises(grpc.RpcError) as too_much:
        payments.record(customer, 6000, [(first, 5001)])
    assert too_much.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "allocations[0].amount" in field_violations(too_much.value)
    payment = payments.record(customer, 4000, [(second, 1000), (first, 2500)])
    assert payment.to_credit.amount_minor == 500
    one, two = payments.invoice(first), payments.invoice(second)
    assert (one.status, one.amount_paid.amount_minor, one.amount_remaining.amount_minor) == (
        ip.OPEN,
        2500,
        2500,
    )
    assert (two.status, two.amount_paid.amount_minor) == (ip.OPEN, 1000)
    assert "invoice.partially_paid" in events(server, tenant.id, first.name)
    assert credit_balance(server, tenant.id, customer) == 500
    # The rest through PayInvoice: only what remains is charged.
    rest = payments.pay(first, payments.attach(customer))
    assert rest.amount.amount_minor == 2500
    assert payments.invoice(first).status == ip.PAID


def test_record_payment_replay_and_validation(channel, billing: Billing) -> None:
    payments, _, customer = setup(channel, billing)
    billing.subscribe(customer, "pro_monthly")
    key = rid()
    first = payments.record(customer, 1000, request_id=key)
    again = payments.record(customer, 1000, request_id=key)
    assert first.name == again.name
    [payment] = payments.stub.ListPayments(
        pp.ListPaymentsRequest(customer=customer.name), metadata=payments.metadata
    ).payments
    assert payment.name == first.name
    with pytest.raises(grpc.RpcError) as bad:
        payments.stub.RecordPayment(
            pp.RecordPaymentRequest(
                customer=customer.name,
                amount=usd(-5),
                method="barter",
                reference="",
                request_id=rid(),
            ),
            metadata=payments.metadata,
        )
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert {"amount.amount_minor", "method", "reference"} <= set(field_violations(bad.value))


# --- invoices: credit notes and MarkPaid with paid_minor ------------------------------------


def test_a_credit_note_on_a_partly_paid_invoice_lowers_what_remains_first(
    channel, billing: Billing, server: Server, tenant: Tenant
) -> None:
    payments, _, customer = setup(channel, billing)
    [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
    payments.record(customer, 2000, [(invoice, 2000)])
    note = billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=invoice.name, amount=usd(4000), reason="goodwill", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    # 30.00 remained: the note clears it, the other 10.00 was paid and goes back as credit.
    assert note.applied_to == "credit_balance"
    after = payments.invoice(invoice)
    assert (after.status, after.amount_remaining.amount_minor, after.amount_paid.amount_minor) == (
        ip.PAID,
        0,
        2000,
    )
    assert credit_balance(server, tenant.id, customer) == 1000


def test_mark_paid_keeps_what_payments_paid(channel, billing: Billing) -> None:
    payments, _, customer = setup(channel, billing)
    [invoice] = billing.invoices_of(billing.subscribe(customer, "pro_monthly"))
    payments.record(customer, 1500, [(invoice, 1500)])
    marked = billing.invoices.MarkPaid(
        ip.MarkPaidRequest(name=invoice.name, payment_reference="cash", request_id=rid()),
        metadata=billing.metadata,
    )
    assert (
        marked.status,
        marked.amount_paid.amount_minor,
        marked.amount_remaining.amount_minor,
    ) == (
        ip.PAID,
        1500,
        0,
    )
    with pytest.raises(grpc.RpcError) as void:
        [other] = billing.invoices_of(billing.subscribe(customer, "basic_monthly"))
        payments.record(customer, 100, [(other, 100)])
        billing.invoices.VoidInvoice(
            ip.VoidInvoiceRequest(name=other.name, request_id=rid()), metadata=billing.metadata
        )
    assert void.value.code() == grpc.StatusCode.FAILED_PRECONDITION


# --- the trial end sees an attached method ------------------------------------------------


def test_trial_end_with_a_method_attached_bills_instead_of_canceling(
    channel, billing: Billing
) -> None:
    invoicing = (
        "kind: invoicing\ntime_zone: utc\ncollection_method: send_invoice\n"
        "trial_end_without_payment_method: cancel\n"
    )
    payments, clock, with_method = setup(channel, billing, invoicing)
    payments.attach(with_method)
    without = billing.customer(clock)
    kept = billing.subscribe(with_method, "pro_monthly", trial_days=7)
    dropped = billing.subscribe(without, "pro_monthly", trial_days=7)
    billing.advance(clock, "2026-04-09T00:00:00Z")
    assert billing.get(kept).status == sp.ACTIVE
    assert billing.get(dropped).status == sp.CANCELED
    assert [i.total.amount_minor for i in billing.invoices_of(kept)][-1] == 5000
