"""Gateway webhooks end to end (ADR 0041) through HandleGatewayEvent with the sandbox's
signed events: disputes open and are won or lost with exact payment amounts (the invoice
stays paid), an event delivered twice is applied once, a bad signature is refused with
nothing changed, a charge event settles an unknown attempt (the invoice paid once) and a
late one never moves a settled attempt."""

from __future__ import annotations

import grpc
import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from grpc_helpers import field_violations
from refund_fixtures import Payments, payments_channel, payments_server

__all__ = ["payments_channel", "payments_server"]  # module-scoped fixtures used below


@pytest.fixture
def pay(payments_channel, payments_server, tenant) -> Payments:
    return Payments(payments_channel, tenant, payments_server)


def amounts(payment: pp.Payment) -> tuple[int, int, int]:
    return (payment.amount.amount_minor, payment.refunded.amount_minor,
            payment.disputed.amount_minor)  # fmt: skip


def dispute_event(pay: Payments, kind: str, attempt: pp.PaymentAttempt, **data):
    return pay.webhook(
        kind,
        reference=attempt.gateway_reference,
        dispute_id="du_1",
        currency="USD",
        **{"amount_minor": 5000, "reason": "fraudulent", **data},
    )


def disputes_of(pay: Payments, customer: str) -> list[pp.Dispute]:
    return list(
        pay.payments.ListDisputes(
            pp.ListDisputesRequest(customer=customer), metadata=pay.metadata
        ).disputes
    )


def test_a_dispute_opened_then_won_gives_the_money_back_and_the_invoice_stays_paid(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)

    opened = dispute_event(pay, "dispute.opened", attempt)

    assert not opened.duplicate
    [dispute] = disputes_of(pay, payment.customer)
    assert opened.outcome == f"{dispute.name} open"
    assert (dispute.status, dispute.amount.amount_minor, dispute.fee.amount_minor) == (
        pp.DISPUTE_OPEN,
        5000,
        0,
    )
    assert (dispute.payment, dispute.payment_attempt, dispute.gateway_dispute_id) == (
        payment.name,
        attempt.name,
        "du_1",
    )
    assert not dispute.HasField("close_time")
    assert amounts(pay.payment(payment.name)) == (5000, 0, 5000)
    assert pay.invoice(invoice.name).status == ip.PAID
    with pytest.raises(grpc.RpcError) as held:  # the disputed money is not refundable
        pay.refund(payment, 1)
    assert held.value.code() == grpc.StatusCode.FAILED_PRECONDITION

    won = dispute_event(pay, "dispute.won", attempt)

    assert won.outcome == f"{dispute.name} won"
    decided = pay.payments.GetDispute(
        pp.GetDisputeRequest(name=dispute.name), metadata=pay.metadata
    )
    assert (decided.status, decided.fee.amount_minor) == (pp.DISPUTE_WON, 0)
    assert decided.HasField("close_time")
    assert amounts(pay.payment(payment.name)) == (5000, 0, 0)
    after = pay.invoice(invoice.name)
    assert (after.status, after.amount_paid.amount_minor) == (ip.PAID, 5000)
    assert [t for t, _ in pay.events(dispute.name)] == ["dispute.opened", "dispute.won"]
    assert pay.refund(payment, 5000).status == pp.REFUND_SUCCEEDED  # refundable again


def test_a_dispute_opened_then_lost_keeps_the_money_gone_with_its_fee(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)
    pay.refund(payment, 1000)  # part refunded before the dispute
    dispute_event(pay, "dispute.opened", attempt, amount_minor=4000)

    lost = dispute_event(pay, "dispute.lost", attempt, amount_minor=4000, fee_minor=1500)

    [dispute] = disputes_of(pay, payment.customer)
    assert lost.outcome == f"{dispute.name} lost"
    assert (dispute.status, dispute.amount.amount_minor, dispute.fee.amount_minor) == (
        pp.DISPUTE_LOST,
        4000,
        1500,
    )
    assert amounts(pay.payment(payment.name)) == (5000, 1000, 4000)
    after = pay.invoice(invoice.name)
    assert (after.status, after.amount_paid.amount_minor) == (ip.PAID, 5000)
    event_type, details = pay.events(dispute.name)[-1]
    assert (event_type, details["fee_minor"], details["payment_disputed_minor"]) == (
        "dispute.lost",
        1500,
        4000,
    )
    assert details["invoices"] == [invoice.name]
    # Lost is final: a late `won` changes nothing; nothing is left to refund.
    late = dispute_event(pay, "dispute.won", attempt, amount_minor=4000)
    assert late.outcome == f"{dispute.name} already lost"
    assert amounts(pay.payment(payment.name)) == (5000, 1000, 4000)
    with pytest.raises(grpc.RpcError) as gone:
        pay.refund(payment, 1)
    assert gone.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def test_a_webhook_delivered_twice_is_applied_once(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)

    first = dispute_event(pay, "dispute.opened", attempt)
    second = dispute_event(pay, "dispute.opened", attempt)  # same body: same event id

    assert (first.duplicate, second.duplicate) == (False, True)
    assert second.event_id == first.event_id
    assert second.outcome == f"applied before: {first.outcome}"
    assert len(disputes_of(pay, payment.customer)) == 1
    assert amounts(pay.payment(payment.name)) == (5000, 0, 5000)


def test_a_webhook_with_a_bad_signature_is_refused_and_changes_nothing(pay):
    invoice, attempt = pay.paid_invoice()
    payment = pay.payment_of(invoice)

    with pytest.raises(grpc.RpcError) as refused:
        dispute_event(pay, "dispute.opened", attempt, secret="whsec_someone_else")

    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(refused.value)) == {"payload"}
    assert disputes_of(pay, payment.customer) == []
    assert amounts(pay.payment(payment.name)) == (5000, 0, 0)
    # Not even recorded: the genuine delivery of that event is applied afterwards.
    genuine = dispute_event(pay, "dispute.opened", attempt)
    assert not genuine.duplicate
    assert amounts(pay.payment(payment.name)) == (5000, 0, 5000)


def test_a_charge_succeeded_webhook_settles_an_unknown_attempt_and_the_invoice_is_paid_once(pay):
    invoice, attempt = pay.paid_invoice("tok_timeout_charged")  # charged, the reply lost
    assert attempt.status == pp.UNKNOWN
    assert invoice.status == ip.OPEN
    key = pay.attempt_key(attempt)

    settled = pay.webhook(
        "charge.succeeded", idempotency_key=key, amount_minor=5000, currency="USD"
    )

    assert settled.outcome == f"{attempt.name} succeeded"
    assert pay.attempt(attempt.name).status == pp.SUCCEEDED
    after = pay.invoice(invoice.name)
    assert (after.status, after.amount_paid.amount_minor) == (ip.PAID, 5000)
    [payment] = pay.payments_of(invoice)
    assert payment.amount.amount_minor == 5000
    # Another delivery (a new event id) and the reconciler's lookup find it settled.
    again = pay.webhook(
        "charge.succeeded", event_id="evt_again", idempotency_key=key, amount_minor=5000
    )
    assert again.outcome == f"{attempt.name} already succeeded"
    pay.advance(pay.the_clock, "2026-04-01T00:01:00Z")
    assert len(pay.payments_of(invoice)) == 1
    assert pay.invoice(invoice.name).amount_paid.amount_minor == 5000
    assert len(pay.ledger_charges(attempt)) == 1  # charged once at the gateway too


def test_a_late_charge_failed_webhook_after_success_changes_nothing(pay):
    invoice, attempt = pay.paid_invoice()
    assert attempt.status == pp.SUCCEEDED

    late = pay.webhook(
        "charge.failed",
        reference=attempt.gateway_reference,
        decline_code="insufficient_funds",
    )

    assert late.outcome == f"{attempt.name} already succeeded"
    assert pay.attempt(attempt.name).status == pp.SUCCEEDED
    after = pay.invoice(invoice.name)
    assert (after.status, after.amount_paid.amount_minor) == (ip.PAID, 5000)
    assert len(pay.payments_of(invoice)) == 1


def test_a_refund_webhook_settles_a_pending_refund(pay):
    invoice, _ = pay.paid_invoice("tok_refund_late")
    payment = pay.payment_of(invoice)
    refund = pay.refund(payment, 2000)
    assert refund.status == pp.REFUND_PENDING
    assert refund.gateway_reference == ""  # only our key is known before it settles

    done = pay.webhook(
        "refund.succeeded",
        reference="re_from_the_gateway",
        idempotency_key=f"billing-{pay.tenant_id}-{refund.name.split('/')[1]}",
        amount_minor=2000,
    )

    assert done.outcome == f"{refund.name} succeeded"
    settled = pay.get_refund(refund.name)
    assert (settled.status, settled.gateway_reference) == (
        pp.REFUND_SUCCEEDED,
        "re_from_the_gateway",
    )
    assert amounts(pay.payment(payment.name)) == (5000, 2000, 0)


def test_unknown_charges_and_event_types_are_recorded_as_ignored(pay):
    unknown = pay.webhook("charge.succeeded", reference="ch_nobody_knows", amount_minor=100)
    assert unknown.outcome == "ignored: unknown charge ch_nobody_knows"
    other = pay.webhook("payout.paid", reference="po_1")
    assert other.outcome == "ignored: an event type this server does not act on"
    with pytest.raises(grpc.RpcError) as no_gateway:
        pay.payments.HandleGatewayEvent(
            pp.HandleGatewayEventRequest(gateway="stripe_nowhere", payload=b"{}"),
            metadata=pay.metadata,
        )
    assert set(field_violations(no_gateway.value)) == {"gateway"}
