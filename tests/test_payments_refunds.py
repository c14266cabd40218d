"""Refunds end to end (ADR 0041) through the gRPC API, the sandbox gateway keeping its ledger
in a file: full and partial refunds leave the payment's refunded amount exact and the
gateway's ledger agreeing; a refund tied to a credit note pays out exactly its credit; what
is not refundable is refused with nothing changed; a refund whose reply is lost is settled
by the reconciler's status lookup, never sent twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import money_pb2
from billing_client.v1 import payments_pb2 as pp
from grpc_helpers import error_info, field_violations
from refund_fixtures import Payments, payments_channel, payments_server, rid, usd

__all__ = ["payments_channel", "payments_server"]  # module-scoped fixtures used below


@pytest.fixture
def pay(payments_channel, payments_server, tenant) -> Payments:
    return Payments(payments_channel, tenant, payments_server)


def test_partial_then_full_refunds_leave_the_payment_and_the_gateway_exact(pay):
    invoice, attempt = pay.paid_invoice()
    assert attempt.status == pp.SUCCEEDED and invoice.status == ip.PAID
    payment = pay.payment_of(invoice)
    assert payment.amount.amount_minor == 5000

    first = pay.refund(payment, 2000)
    assert (first.status, first.amount.amount_minor, first.payment) == (
        pp.REFUND_SUCCEEDED,
        2000,
        payment.name,
    )
    assert first.gateway_reference
    assert pay.payment(payment.name).refunded.amount_minor == 2000

    rest = pay.refund(payment)  # no amount: all that is left
    assert (rest.status, rest.amount.amount_minor) == (pp.REFUND_SUCCEEDED, 3000)
    after = pay.payment(payment.name)
    assert (after.amount.amount_minor, after.refunded.amount_minor) == (5000, 5000)
    # The gateway paid back exactly that, once each.
    charge = attempt.gateway_reference
    assert sorted(e.moved_minor for e in pay.ledger_refunds() if e.target == charge) == [
        2000,
        3000,
    ]
    # Events: each refund pending then succeeded, with the payment's new refunded total.
    assert [t for t, _ in pay.events(first.name)] == ["refund.pending", "refund.succeeded"]
    succeeded = pay.events(rest.name)[-1][1]
    assert (succeeded["amount_minor"], succeeded["payment_refunded_minor"]) == (3000, 5000)
    # A refund and a refunded payment leave the invoice paid.
    assert pay.invoice(invoice.name).status == ip.PAID

    with pytest.raises(grpc.RpcError) as nothing_left:
        pay.refund(payment, 1)
    assert nothing_left.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(nothing_left.value).reason == "NOTHING_TO_REFUND"


def test_a_refund_over_the_refundable_amount_is_refused_and_changes_nothing(pay):
    invoice, _ = pay.paid_invoice()
    payment = pay.payment_of(invoice)
    pay.refund(payment, 4000)

    with pytest.raises(grpc.RpcError) as refused:
        pay.refund(payment, 1001)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(refused.value) == {
        "amount": f"at most 10.00 USD of {payment.name} is left to refund"
    }
    assert pay.payment(payment.name).refunded.amount_minor == 4000
    with pytest.raises(grpc.RpcError) as currency:
        pay.payments.CreateRefund(
            pp.CreateRefundRequest(
                payment=payment.name,
                amount=money_pb2.Money(currency_code="EUR", amount_minor=100),
                request_id=rid(),
            ),
            metadata=pay.metadata,
        )
    assert field_violations(currency.value) == {"amount": "must be in USD"}
    last = pay.refund(payment, 1000)  # exactly what is left is fine
    assert last.status == pp.REFUND_SUCCEEDED
    assert pay.payment(payment.name).refunded.amount_minor == 5000


def test_racing_refunds_never_give_back_more_than_was_received(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)

    def try_refund(_: int) -> str:
        try:
            return pp.RefundStatus.Name(pay.refund(payment, 2000).status)
        except grpc.RpcError as refused:
            return refused.code().name

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = sorted(pool.map(try_refund, range(5)))

    # 50.00 received: two refunds of 20.00 fit, the other three find 10.00 left.
    assert outcomes == ["INVALID_ARGUMENT"] * 3 + ["REFUND_SUCCEEDED"] * 2
    assert pay.payment(payment.name).refunded.amount_minor == 4000
    charge = attempt.gateway_reference
    assert [e.moved_minor for e in pay.ledger_refunds() if e.target == charge] == [2000, 2000]


def test_a_replayed_refund_request_answers_the_same_refund_and_refunds_once(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)
    key = rid()
    first = pay.refund(payment, 1500, request_id=key)
    again = pay.refund(payment, 1500, request_id=key)
    assert again == first
    assert pay.payment(payment.name).refunded.amount_minor == 1500
    charge = attempt.gateway_reference
    assert [e.moved_minor for e in pay.ledger_refunds() if e.target == charge] == [1500]


def test_a_refund_tied_to_a_credit_note_pays_out_exactly_its_credit(pay):
    invoice, _ = pay.paid_invoice()
    payment = pay.payment_of(invoice)
    customer = payment.customer
    note = pay.credit_note(invoice, 1500)
    assert note.applied_to == "credit_balance"
    assert pay.credit_balance(customer) == 1500

    with pytest.raises(grpc.RpcError) as over:
        pay.refund(payment, 1501, credit_note=note.name)
    assert field_violations(over.value) == {
        "amount": f"at most 15.00 USD of {note.name}'s credit is left to refund"
    }
    assert pay.credit_balance(customer) == 1500

    refund = pay.refund(payment, credit_note=note.name)  # all of the note's credit
    assert (refund.status, refund.amount.amount_minor, refund.credit_note) == (
        pp.REFUND_SUCCEEDED,
        1500,
        note.name,
    )
    assert pay.credit_balance(customer) == 0
    assert pay.payment(payment.name).refunded.amount_minor == 1500
    assert pay.invoice(invoice.name).status == ip.PAID

    with pytest.raises(grpc.RpcError) as twice:
        pay.refund(payment, 1, credit_note=note.name)
    assert twice.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(twice.value).reason == "NOTHING_TO_REFUND"


def test_a_failed_credit_note_refund_gives_the_reserved_credit_back(pay):
    invoice, attempt = pay.paid_invoice("tok_refund_fails")
    payment = pay.payment_of(invoice)
    note = pay.credit_note(invoice, 2000)
    assert pay.credit_balance(payment.customer) == 2000

    refund = pay.refund(payment, 1200, credit_note=note.name)

    assert refund.status == pp.REFUND_FAILED and refund.failure_message
    assert pay.credit_balance(payment.customer) == 2000  # reserved, then given back
    assert pay.payment(payment.name).refunded.amount_minor == 0
    assert [e for e in pay.ledger_refunds() if e.target == attempt.gateway_reference] == []
    failed = pay.events(refund.name)[-1]
    assert failed[0] == "refund.failed" and failed[1]["credit_returned_minor"] == 1200


def test_a_credit_note_refund_is_refused_once_the_credit_was_spent(pay):
    invoice, _ = pay.paid_invoice()
    payment = pay.payment_of(invoice)
    note = pay.credit_note(invoice, 1000)
    # The credit is applied to the next invoice (the May renewal of the subscription).
    pay.advance(pay.the_clock, "2026-05-01T00:00:00Z")
    assert pay.credit_balance(payment.customer) == 0

    with pytest.raises(grpc.RpcError) as spent:
        pay.refund(payment, credit_note=note.name)
    assert spent.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(spent.value).reason == "CREDIT_SPENT"
    assert pay.payment(payment.name).refunded.amount_minor == 0


def test_a_refund_whose_reply_is_lost_is_settled_by_the_reconciler_not_sent_again(pay):
    invoice, attempt = pay.paid_invoice("tok_refund_timeout")
    payment = pay.payment_of(invoice)

    refund = pay.refund(payment, 2500)

    assert refund.status == pp.REFUND_UNKNOWN
    assert pay.payment(payment.name).refunded.amount_minor == 0  # not known to be paid back
    with pytest.raises(grpc.RpcError) as held:  # the unknown refund holds its amount
        pay.refund(payment, 2501)
    assert field_violations(held.value) == {
        "amount": f"at most 25.00 USD of {payment.name} is left to refund"
    }
    # The reconcile item is due 30 s after the refund (the default lookups_after[0]).
    pay.advance(pay.the_clock, "2026-04-01T00:01:00Z")

    settled = pay.get_refund(refund.name)
    assert settled.status == pp.REFUND_SUCCEEDED
    assert pay.payment(payment.name).refunded.amount_minor == 2500
    charge = attempt.gateway_reference
    assert [e.moved_minor for e in pay.ledger_refunds() if e.target == charge] == [2500]
    assert [t for t, _ in pay.events(refund.name)] == [
        "refund.pending",
        "refund.unknown",
        "refund.succeeded",
    ]


def test_a_manual_payment_is_refunded_at_once_with_how_it_went_back(pay):
    customer = pay.customer(pay.the_clock)
    [invoice] = pay.invoices_of(pay.subscribe(customer, "pro_monthly"))
    payment = pay.payments.RecordPayment(
        pp.RecordPaymentRequest(
            customer=customer.name,
            amount=usd(5000),
            method="bank_transfer",
            reference="TR-1",
            request_id=rid(),
        ),
        metadata=pay.metadata,
    )
    assert pay.invoice(invoice.name).status == ip.PAID

    with pytest.raises(grpc.RpcError) as no_reason:
        pay.refund(payment, 1000, reason="")
    assert set(field_violations(no_reason.value)) == {"reason"}

    refund = pay.refund(payment, 1000, reason="bank transfer TR-9 back to the customer")
    assert (refund.status, refund.gateway_reference) == (pp.REFUND_SUCCEEDED, "")
    assert pay.payment(payment.name).refunded.amount_minor == 1000
    assert [t for t, _ in pay.events(refund.name)] == ["refund.succeeded"]


def test_unknown_payments_and_refunds_are_not_found(pay):
    with pytest.raises(grpc.RpcError) as missing:
        pay.refund(pp.Payment(name="payments/pmt_01HZZZZZZZZZZZZZZZZZZZZZZZ"), 100)
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as no_refund:
        pay.get_refund("refunds/re_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert no_refund.value.code() == grpc.StatusCode.NOT_FOUND
