"""How reconciliation ends when the gateway never settles a call (ADR 0034, 0035, 0041),
through the gRPC API on both databases, the sandbox keeping its books in a file:

- a refund the gateway never received (`tok_refund_lost`) is `not_found` at every lookup; at
  the first lookup `not_found_after` (10m) after it was made it is failed, nothing refunded,
  and the credit note's credit it reserved goes back on the balance;
- an attempt and a refund still unknown after the last lookup (the gateway keeps answering
  `not_found` before `not_found_after`) are parked for a person, the reason shown by
  AdvanceClock and `billing due-work list --parked`; nothing moved, nothing sent twice.
"""

from __future__ import annotations

import json

import pytest

from billing.cli import main
from billing_builtin.sandbox import ledger as sandbox_ledger
from billing_client.v1 import payments_pb2 as pp
from refund_fixtures import Payments, payment_rules, payments_channel, payments_server

__all__ = ["payments_channel", "payments_server"]  # module-scoped fixtures used below

# Two lookups, at +30 s and +2 min; a key not found is final only after an hour: both
# lookups answer not_found and neither is final, so the item is parked after the second.
SHORT_RECONCILE = b"""kind: payments
gateways:
  - {name: sandbox, engine: sandbox}
reconcile:
  lookups_after: [30s, 2m]
  not_found_after: 1h
"""


@pytest.fixture
def pay(payments_channel, payments_server, tenant) -> Payments:
    return Payments(payments_channel, tenant, payments_server)


def test_a_refund_the_gateway_never_received_fails_and_gives_its_credit_back(pay):
    invoice, attempt = pay.paid_invoice("tok_refund_lost")
    payment = pay.payment_of(invoice)
    note = pay.credit_note(invoice, 2000)
    assert pay.credit_balance(payment.customer) == 2000

    refund = pay.refund(payment, 1500, credit_note=note.name)

    assert (refund.status, refund.amount.amount_minor) == (pp.REFUND_UNKNOWN, 1500)
    assert pay.credit_balance(payment.customer) == 500  # reserved at the intent
    # Lookups at +30 s and +2 min: not found, but the call may still arrive.
    pay.advance(pay.the_clock, "2026-04-01T00:09:59Z")
    assert pay.get_refund(refund.name).status == pp.REFUND_UNKNOWN
    assert pay.credit_balance(payment.customer) == 500
    # The lookup at +10 min: not found `not_found_after` the call: it never arrived.
    pay.advance(pay.the_clock, "2026-04-01T00:10:00Z")

    failed = pay.get_refund(refund.name)
    assert failed.status == pp.REFUND_FAILED
    assert failed.failure_message == (
        "the gateway never received this refund (not found after 0:10:00); nothing was refunded"
    )
    assert pay.credit_balance(payment.customer) == 2000
    assert pay.payment(payment.name).refunded.amount_minor == 0
    assert [e for e in pay.ledger_refunds() if e.target == attempt.gateway_reference] == []
    assert _lookups(pay, _refund_key(pay, refund)) == 3
    events = pay.events(refund.name)
    assert [t for t, _ in events] == ["refund.pending", "refund.unknown", "refund.failed"]
    assert events[-1][1]["credit_returned_minor"] == 1500
    # It holds nothing any more: all of the payment may be refunded again.
    assert pay.refund(payment).amount.amount_minor == 5000


def test_an_attempt_still_unknown_after_the_last_lookup_is_parked_for_a_person(
    pay, tenant, monkeypatch, capsys
):
    pay.push({**payment_rules(), "payments.yaml": SHORT_RECONCILE})
    invoice, attempt = pay.paid_invoice("tok_timeout_not_charged")
    assert (attempt.status, attempt.lookups) == (pp.UNKNOWN, 0)

    pay.advance(pay.the_clock, "2026-04-01T00:01:00Z")
    assert (pay.attempt(attempt.name).status, pay.attempt(attempt.name).lookups) == (pp.UNKNOWN, 1)
    progress = pay.advance(pay.the_clock, "2026-04-01T00:05:00Z")

    last = progress[-1]
    assert (last.finished, last.remaining, last.parked) == (True, 0, 1)
    [parked] = last.parked_items
    why = (
        f"ParkItem: {attempt.name} is still unknown after 2 status lookups (not_found);"
        " a person must settle it with the gateway"
    )
    assert (parked.kind, parked.last_error) == ("reconcile_attempt", why)
    assert parked.subscription == f"subscriptions/{attempt.name.split('/')[1]}"  # the subject
    still = pay.attempt(attempt.name)
    assert (still.status, still.decline_code, still.lookups) == (pp.UNKNOWN, "", 2)
    assert pay.invoice(invoice.name).amount_remaining.amount_minor == 5000
    assert pay.ledger_charges(attempt) == []  # never charged, never sent again
    assert _lookups(pay, pay.attempt_key(attempt)) == 2
    assert _parked_listed(pay, tenant, monkeypatch, capsys) == [(parked.id, why)]

    # A person asks for it to run again: it looks once more, counts it, and parks again.
    assert main(["due-work", "retry", parked.id, "--tenant", tenant.id]) == 0
    again = pay.advance(pay.the_clock, "2026-04-01T00:06:00Z")[-1]
    assert [(p.id, p.last_error) for p in again.parked_items] == [
        (parked.id, why.replace("after 2 status lookups", "after 3 status lookups"))
    ]
    assert pay.attempt(attempt.name).lookups == 3
    assert _lookups(pay, pay.attempt_key(attempt)) == 3


def test_a_refund_still_unknown_after_the_last_lookup_is_parked_holding_its_credit(
    pay, tenant, monkeypatch, capsys
):
    pay.push({**payment_rules(), "payments.yaml": SHORT_RECONCILE})
    invoice, attempt = pay.paid_invoice("tok_refund_lost")
    payment = pay.payment_of(invoice)
    note = pay.credit_note(invoice, 2000)
    refund = pay.refund(payment, 1500, credit_note=note.name)
    assert refund.status == pp.REFUND_UNKNOWN

    progress = pay.advance(pay.the_clock, "2026-04-01T00:05:00Z")

    last = progress[-1]
    assert (last.finished, last.remaining, last.parked) == (True, 0, 1)
    [parked] = last.parked_items
    why = (
        f"ParkItem: {refund.name} is still unknown after 2 status lookups (not_found);"
        " a person must settle it with the gateway"
    )
    assert (parked.kind, parked.last_error) == ("reconcile_refund", why)
    assert pay.get_refund(refund.name).status == pp.REFUND_UNKNOWN
    # The safe side: the credit stays reserved and the amount held until someone decides.
    assert pay.credit_balance(payment.customer) == 500
    assert pay.payment(payment.name).refunded.amount_minor == 0
    assert [e for e in pay.ledger_refunds() if e.target == attempt.gateway_reference] == []
    assert _lookups(pay, _refund_key(pay, refund)) == 2
    assert [t for t, _ in pay.events(refund.name)] == ["refund.pending", "refund.unknown"]
    assert _parked_listed(pay, tenant, monkeypatch, capsys) == [(parked.id, why)]


def _refund_key(pay: Payments, refund: pp.Refund) -> str:
    return f"billing-{pay.tenant_id}-{refund.name.split('/')[1]}"


def _lookups(pay: Payments, key: str) -> int:
    """Lookups the gateway answered for `key`, from its own call log."""
    calls = sandbox_ledger.calls(pay.server.ledger)
    return sum(1 for c in calls if c.op == "lookup" and c.idempotency_key == key)


def _parked_listed(pay: Payments, tenant, monkeypatch, capsys) -> list[tuple[str, str]]:
    """(id, last error) of the tenant's parked items as an operator lists them."""
    monkeypatch.setenv("BILLING_DATABASE_URL", pay.server.database.async_url)
    capsys.readouterr()
    assert main(["due-work", "list", "--parked", "--tenant", tenant.id]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()[:-1]]
    return [(i["id"], i["last_error"]) for i in listed]


def test_what_the_last_lookup_learned_is_kept_when_the_refund_is_parked(pay):
    late = SHORT_RECONCILE.replace(
        b"engine: sandbox}", b"engine: sandbox, settings: {late_success_lookups: 5}}"
    )
    pay.push({**payment_rules(), "payments.yaml": late})
    invoice, _ = pay.paid_invoice("tok_refund_late")
    refund = pay.refund(pay.payment_of(invoice), 1000)
    assert refund.status == pp.REFUND_PENDING
    pay.advance(pay.the_clock, "2026-04-01T00:01:00Z")  # the first lookup: still pending
    assert pay.get_refund(refund.name).status == pp.REFUND_PENDING
    # The gateway goes down before the last lookup: it cannot say, so the refund is unknown.
    down = SHORT_RECONCILE.replace(
        b"engine: sandbox}", b"engine: sandbox, settings: {outage: true}}"
    )
    pay.push({**payment_rules(), "payments.yaml": down})

    last = pay.advance(pay.the_clock, "2026-04-01T00:05:00Z")[-1]

    [parked] = last.parked_items
    assert parked.last_error == (
        f"ParkItem: {refund.name} is still unknown after 2 status lookups (unknown);"
        " a person must settle it with the gateway"
    )
    # The move to unknown the last lookup made is kept, with its event, though it parked.
    assert pay.get_refund(refund.name).status == pp.REFUND_UNKNOWN
    assert [t for t, _ in pay.events(refund.name)] == ["refund.pending", "refund.unknown"]
