"""Routing fails over on an outage, not on a decline (issue 15, ADR 0040), end to end: a real
gRPC server on both backends, payment and routing rules pushed as YAML, two sandbox gateways
of one token pool each keeping its own books, so what each gateway was asked is read from
its ledger, not from our tables."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import payments_pb2 as pp
from conftest import Tenant
from gateway_pair import Pair, PairServer, pair_channel, pair_server, payments_yaml, routing_yaml

__all__ = ["pair_channel", "pair_server"]  # module fixtures

DOWN = "{outage: true}"


@pytest.fixture
def pair(pair_channel, tenant: Tenant, pair_server: PairServer) -> Pair:  # type: ignore[no-untyped-def]
    return Pair(pair_channel, tenant, pair_server)


def test_an_outage_at_a_fails_over_to_b_which_charges_exactly_once(pair: Pair) -> None:
    pair.push(payments_yaml(a=DOWN), routing_yaml())
    customer = pair.new_customer()
    method = pair.attach(customer, "tok_visa", gateway="gw_a")
    invoice = pair.open_invoice(customer)

    attempt = pair.pay(invoice, method)

    assert (attempt.status, attempt.gateway, attempt.amount.amount_minor) == (
        pp.SUCCEEDED,
        "gw_b",
        5000,
    )
    assert (attempt.decline_code, attempt.fraud_outcome) == ("", "allow")
    assert pair.calls("gw_a", attempt) == [("purchase", "unavailable")]
    assert pair.calls("gw_b", attempt) == [("purchase", "succeeded")]
    assert pair.charged("gw_a", attempt) == []
    assert pair.charged("gw_b", attempt) == [5000]
    paid = pair.invoice(invoice)
    assert (paid.status, paid.amount_paid.amount_minor, paid.amount_remaining.amount_minor) == (
        ip.PAID,
        5000,
        0,
    )
    [payment] = pair.payments_of(invoice)
    assert (payment.amount.amount_minor, payment.payment_attempt) == (5000, attempt.name)
    # The attempt was recorded at the route's first gateway, moved to the second (audited,
    # under the PayInvoice request), and succeeded there.
    audit = pair.audit_of(attempt.name)
    create, fail_over = audit[0], audit[1]
    assert create[0] == "create"
    assert {k: create[1][k] for k in ("gateway", "route", "routing_case", "amount_minor")} == {
        "gateway": "gw_a",
        "route": ["gw_a", "gw_b"],
        "routing_case": "cards_failover",
        "amount_minor": 5000,
    }
    assert fail_over == (
        "fail_over",
        {"from": "gw_a", "to": "gw_b", "reason": "gateway unavailable"},
    )
    assert [(t, e["gateway"], e["amount_minor"]) for t, e in pair.events(attempt.name)] == [
        ("payment_attempt.pending", "gw_a", 5000),
        ("payment_attempt.succeeded", "gw_b", 5000),
    ]


def test_a_decline_at_a_is_final_and_b_is_never_called(pair: Pair) -> None:
    pair.push(payments_yaml(), routing_yaml())
    customer = pair.new_customer()
    method = pair.attach(customer, "tok_insufficient_funds", gateway="gw_a")
    invoice = pair.open_invoice(customer)

    attempt = pair.pay(invoice, method)

    assert (attempt.status, attempt.gateway, attempt.decline_code) == (
        pp.FAILED,
        "gw_a",
        "insufficient_funds",
    )
    assert pair.calls("gw_a", attempt) == [("purchase", "failed")]
    assert pair.calls("gw_b") == []
    assert pair.payments_of(invoice) == []
    assert pair.invoice(invoice).status == ip.OPEN
    assert "fail_over" not in [action for action, _ in pair.audit_of(attempt.name)]
    assert [t for t, _ in pair.events(attempt.name)] == [
        "payment_attempt.pending",
        "payment_attempt.failed",
    ]
    # A decline is an answer: it does not count toward a's breaker.
    a = pair.gateways()["gw_a"]
    assert (a.circuit_state, a.consecutive_failures) == ("closed", 0)


def test_an_unknown_outcome_at_a_is_not_failed_over_but_reconciled_at_a(pair: Pair) -> None:
    pair.push(payments_yaml(), routing_yaml())
    customer = pair.new_customer()
    method = pair.attach(customer, "tok_timeout_charged", gateway="gw_a")
    invoice = pair.open_invoice(customer)

    attempt = pair.pay(invoice, method)

    # a may have charged (it did: the reply was lost): trying b could charge twice.
    assert (attempt.status, attempt.gateway, attempt.lookups) == (pp.UNKNOWN, "gw_a", 0)
    assert pair.charged("gw_a", attempt) == [5000]
    assert pair.calls("gw_b") == []
    assert pair.invoice(invoice).status == ip.OPEN

    pair.billing.advance(pair.the_clock, "2026-04-01T00:01:00Z")  # first lookup at +30 s

    settled = pair.attempt(attempt)
    assert (settled.status, settled.gateway, settled.lookups) == (pp.SUCCEEDED, "gw_a", 1)
    assert pair.calls("gw_a", attempt) == [("purchase", "unknown"), ("lookup", "succeeded")]
    assert pair.calls("gw_b") == []
    assert pair.charged("gw_a", attempt) == [5000]
    paid = pair.invoice(invoice)
    assert (paid.status, paid.amount_paid.amount_minor) == (ip.PAID, 5000)
    assert [t for t, _ in pair.events(attempt.name)] == [
        "payment_attempt.pending",
        "payment_attempt.unknown",
        "payment_attempt.succeeded",
    ]


def _wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay + 0.05)


def test_the_breaker_opens_skips_a_then_probes_it_once_and_closes(pair: Pair) -> None:
    """failures: 2, open_for: 2s (the breaker runs on wall time: a small window, not a
    simulated clock)."""
    routing = routing_yaml(failures=2, open_for="2s")
    pair.push(payments_yaml(a=DOWN), routing)
    customer = pair.new_customer()
    method = pair.attach(customer, "tok_visa", gateway="gw_a")
    invoices = [pair.open_invoice(customer) for _ in range(5)]

    # Two outages in a row at a: each attempt fails over to b; the second opens a's breaker.
    first, second = pair.pay(invoices[0], method), pair.pay(invoices[1], method)
    assert [(x.status, x.gateway) for x in (first, second)] == [(pp.SUCCEEDED, "gw_b")] * 2
    assert pair.calls("gw_a") == [("purchase", "unavailable")] * 2
    a = pair.gateways()["gw_a"]
    assert (a.circuit_state, a.consecutive_failures) == ("open", 2)
    retry_at = a.retry_time.ToDatetime(tzinfo=UTC)
    assert 0 < (retry_at - datetime.now(UTC)).total_seconds() <= 2
    b = pair.gateways()["gw_b"]
    assert (b.circuit_state, b.consecutive_failures, b.HasField("retry_time")) == (
        "closed",
        0,
        False,
    )

    # Open: straight to b, a is not even asked.
    third = pair.pay(invoices[2], method)
    assert (third.status, third.gateway) == (pp.SUCCEEDED, "gw_b")
    assert pair.calls("gw_a") == [("purchase", "unavailable")] * 2
    assert pair.calls("gw_b", third) == [("purchase", "succeeded")]
    assert ("fail_over", {"from": "gw_a", "to": "gw_b", "reason": "gateway unavailable"}) in (
        pair.audit_of(third.name)
    )

    # After open_for, half open: one probe goes to a; a is still down, so the probe's
    # outage reopens the breaker for another open_for and the attempt fails over to b.
    _wait_until(retry_at)
    assert pair.gateways()["gw_a"].circuit_state == "half_open"
    fourth = pair.pay(invoices[3], method)
    assert (fourth.status, fourth.gateway) == (pp.SUCCEEDED, "gw_b")
    assert pair.calls("gw_a", fourth) == [("purchase", "unavailable")]
    a = pair.gateways()["gw_a"]
    assert a.circuit_state == "open"
    reopened_until = a.retry_time.ToDatetime(tzinfo=UTC)
    assert reopened_until > retry_at

    # a comes back (the rules no longer say it is down); the next probe succeeds there and
    # closes the breaker.
    pair.push(payments_yaml(), routing)
    _wait_until(reopened_until)
    fifth = pair.pay(invoices[4], method)
    assert (fifth.status, fifth.gateway) == (pp.SUCCEEDED, "gw_a")
    assert pair.calls("gw_a", fifth) == [("purchase", "succeeded")]
    assert pair.calls("gw_b", fifth) == []
    assert pair.charged("gw_a", fifth) == [5000]
    a = pair.gateways()["gw_a"]
    assert (a.circuit_state, a.consecutive_failures, a.HasField("retry_time")) == (
        "closed",
        0,
        False,
    )
    # Five invoices, five charges of 50.00, each at exactly one gateway.
    attempts = [first, second, third, fourth, fifth]
    assert [pair.charged("gw_a", x) + pair.charged("gw_b", x) for x in attempts] == [[5000]] * 5
    assert [pair.invoice(i).status for i in invoices] == [ip.PAID] * 5
