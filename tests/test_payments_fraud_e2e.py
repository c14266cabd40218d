"""Fraud rules block and explain (issue 15, ADR 0040), end to end: a real gRPC server on both
backends, the fraud checks pushed as YAML in `kind: payments`, the reasons read back from
the attempt over gRPC, and the sandbox's own books proving a blocked attempt was never sent."""

from __future__ import annotations

import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from conftest import Tenant
from gateway_pair import Pair, PairServer, pair_channel, pair_server, payments_yaml, routing_yaml
from payments_fixtures import rid

__all__ = ["pair_channel", "pair_server"]  # module fixtures

VELOCITY = "  velocity:\n    - {scope: method, window: 1h, max_attempts: 2, outcome: block}\n"
NEW_CUSTOMER = "  new_customer: {max_age: 7d, max_amount: {USD: 40.00}, outcome: review}\n"
COUNTRIES = "  country_mismatch: block\n"


@pytest.fixture
def pair(pair_channel, tenant: Tenant, pair_server: PairServer) -> Pair:  # type: ignore[no-untyped-def]
    return Pair(pair_channel, tenant, pair_server)


def _pay(
    pair: Pair, invoice: ip.Invoice, method: pp.PaymentMethod, country: str = ""
) -> pp.PaymentAttempt:
    return pair.stub.PayInvoice(
        pp.PayInvoiceRequest(
            invoice=invoice.name,
            payment_method=method.name,
            request_country=country,
            request_id=rid(),
        ),
        metadata=pair.metadata,
        timeout=30,
    )


def _blocked(pair: Pair, attempt: pp.PaymentAttempt, reasons: list[str]) -> None:
    """Failed unsent, with the reasons on the attempt as GetPaymentAttempt answers it."""
    got = pair.attempt(attempt)
    assert (got.status, got.decline_code, got.fraud_outcome) == (
        pp.FAILED,
        "fraud_blocked",
        "block",
    )
    assert list(got.fraud_reasons) == reasons
    assert got.failure_message == "; ".join(reasons)
    assert (got.gateway_reference, got.payment) == ("", "")
    assert pair.calls("gw_a", attempt) == pair.calls("gw_b", attempt) == []
    # Never pending: the attempt was born failed, and nothing is left to reconcile.
    assert [t for t, _ in pair.events(attempt.name)] == ["payment_attempt.failed"]
    [(action, changes)] = pair.audit_of(attempt.name)
    assert (action, changes["fraud_outcome"], changes["fraud_reasons"], changes["status"]) == (
        "create",
        "block",
        reasons,
        "failed",
    )


def test_velocity_blocks_the_third_attempt_on_a_method_within_the_window(pair: Pair) -> None:
    pair.push(payments_yaml(fraud=VELOCITY), routing_yaml())
    customer = pair.new_customer()
    card = pair.attach(customer, "tok_visa", gateway="gw_a")
    invoices = [pair.open_invoice(customer) for _ in range(3)]

    first, second = pair.pay(invoices[0], card), pair.pay(invoices[1], card)
    assert [(a.status, a.fraud_outcome) for a in (first, second)] == [(pp.SUCCEEDED, "allow")] * 2
    assert [pair.charged("gw_a", a) for a in (first, second)] == [[5000], [5000]]

    third = pair.pay(invoices[2], card)

    _blocked(pair, third, ["3 attempts on this payment method in 1h (at most 2)"])
    assert pair.calls("gw_a") == [("purchase", "succeeded")] * 2  # nothing more was sent
    blocked_invoice = pair.invoice(invoices[2])
    assert (blocked_invoice.status, blocked_invoice.amount_remaining.amount_minor) == (
        ip.OPEN,
        5000,
    )
    # The limit is per method: another card of the same customer pays the invoice.
    other = pair.attach(customer, "tok_mastercard", gateway="gw_a", last4="4444")
    paid = pair.pay(invoices[2], other)
    assert (paid.status, paid.fraud_outcome, list(paid.fraud_reasons)) == (
        pp.SUCCEEDED,
        "allow",
        [],
    )
    assert pair.charged("gw_a", paid) == [5000]
    # Once the window has passed, the first card is charged again.
    pair.billing.advance(pair.the_clock, "2026-04-01T01:00:01Z")
    later = pair.pay(pair.open_invoice(customer), card)
    assert (later.status, later.fraud_outcome) == (pp.SUCCEEDED, "allow")


def test_a_new_customer_above_the_amount_is_charged_and_flagged_for_review(pair: Pair) -> None:
    pair.push(payments_yaml(fraud=NEW_CUSTOMER), routing_yaml())
    customer = pair.new_customer()
    card = pair.attach(customer, "tok_visa", gateway="gw_a")

    small = pair.pay(pair.open_invoice(customer, "basic_monthly"), card)  # 30.00: under 40.00
    assert (small.status, small.fraud_outcome, list(small.fraud_reasons)) == (
        pp.SUCCEEDED,
        "allow",
        [],
    )

    invoice = pair.open_invoice(customer)  # 50.00
    large = pair.pay(invoice, card)

    reason = (
        "50.00 USD from a customer created less than an hour ago"
        " (customers newer than 7d: at most 40.00 USD)"
    )
    got = pair.attempt(large)
    assert (got.status, got.fraud_outcome, list(got.fraud_reasons), got.decline_code) == (
        pp.SUCCEEDED,
        "review",
        [reason],
        "",
    )
    assert pair.charged("gw_a", large) == [5000]
    assert pair.invoice(invoice).status == ip.PAID
    assert [(t, e["fraud_outcome"]) for t, e in pair.events(large.name)] == [
        ("payment_attempt.pending", "review"),
        ("payment_attempt.succeeded", "review"),
    ]


def test_past_max_age_the_same_amount_is_not_reviewed(pair: Pair) -> None:
    pair.push(payments_yaml(fraud=NEW_CUSTOMER), routing_yaml())
    customer = pair.new_customer()
    card = pair.attach(customer, "tok_visa", gateway="gw_a")
    pair.billing.advance(pair.the_clock, "2026-04-08T00:00:01Z")  # 7 days and a second
    older = pair.pay(pair.open_invoice(customer), card)
    assert (older.status, older.fraud_outcome, list(older.fraud_reasons)) == (
        pp.SUCCEEDED,
        "allow",
        [],
    )


def test_countries_that_differ_block_with_each_country_named(pair: Pair) -> None:
    pair.push(payments_yaml(fraud=COUNTRIES), routing_yaml())
    customer = pair.new_customer()
    us_card = pair.attach(customer, "tok_visa", gateway="gw_a", country="US")

    same = _pay(pair, pair.open_invoice(customer), us_card, country="US")
    assert (same.status, same.fraud_outcome) == (pp.SUCCEEDED, "allow")

    from_ng = _pay(pair, pair.open_invoice(customer), us_card, country="NG")
    _blocked(pair, from_ng, ["countries differ: card US, billing address US, request NG"])

    # The card's own country against its billing address, no request country given.
    de_card = pair.attach(customer, "tok_visa", gateway="gw_a", country="DE")
    german = _pay(pair, pair.open_invoice(customer), de_card)
    _blocked(pair, german, ["countries differ: card DE, billing address US"])
    assert pair.calls("gw_a") == [("purchase", "succeeded")]  # only the first was sent
