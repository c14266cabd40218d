"""The dunning case engine (ADR 0043) over real gRPC on both backends, walked on a simulation
clock instant by instant: each event exactly when the policy says, nothing just before it,
nothing between. The shipped policy (rules/dunning.yaml): notices on days 0, 3 and 7,
retries on days 1, 3, 5 and 7, past_due on day 1, suspension on day 10, cancellation on day
21. A retry and a step of one instant run in one transaction, the retry first."""

from __future__ import annotations

from datetime import datetime

import pytest

from billing.domain.dunning import CaseStatus, EntryKind
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import ledger_pb2 as lp
from billing_client.v1 import ledger_pb2_grpc
from billing_client.v1 import payments_pb2 as pp
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import Server, Tenant
from dunning_walk import (
    DAY,
    JUST_AFTER,
    START,
    Account,
    Tables,
    Walk,
    account,
    dunning_rules,
)
from payments_fixtures import Payments, rid

T0 = START


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


@pytest.fixture
def tables(server: Server, tenant: Tenant) -> Tables:
    return Tables(server, tenant.id)


def trail(tables: Tables, acct: Account, case_name: str) -> list[tuple[datetime, str, str]]:
    return tables.events(case_name, acct.sub.name, acct.invoice.name)


def open_case(billing: Billing, payments: Payments, tables: Tables, token: str):  # type: ignore[no-untyped-def]
    """A customer paying by `token` subscribed at T0; the first collection fails at T0 and
    opens the case."""
    clock = billing.clock(T0.isoformat())
    acct = account(billing, payments, clock, token)
    billing.advance(clock, T0.isoformat())  # the collection and its failure, at T0
    case = tables.case(acct.invoice_id)
    assert case is not None
    return clock, acct, case


def test_the_issue_walk_day_by_day_to_cancellation(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    expected = [
        (T0, "dunning.opened", c),
        (T0, "dunning.step_done", c),  # failed_notice
        (T0 + DAY, "dunning.retried", c),
        (T0 + DAY, "dunning.step_done", c),  # past_due
        (T0 + DAY, "subscription.past_due", s),
        (T0 + 3 * DAY, "dunning.retried", c),
        (T0 + 3 * DAY, "dunning.step_done", c),  # reminder
        (T0 + 5 * DAY, "dunning.retried", c),
        (T0 + 7 * DAY, "dunning.retried", c),
        (T0 + 7 * DAY, "dunning.step_done", c),  # final_notice
        (T0 + 10 * DAY, "dunning.step_done", c),  # suspend
        (T0 + 10 * DAY, "subscription.suspended", s),
        (T0 + 21 * DAY, "dunning.exhausted", c),
        (T0 + 21 * DAY, "dunning.step_done", c),  # cancel
        (T0 + 21 * DAY, "subscription.canceled", s),
    ]
    Walk(billing, clock, lambda: trail(tables, acct, c), T0).through(expected, T0 + 30 * DAY)

    declined = "insufficient_funds"
    assert tables.attempts(acct.invoice_id) == [
        (T0, "automatic_collection", "failed", declined),
        (T0 + DAY, "dunning_retry", "failed", declined),
        (T0 + 3 * DAY, "dunning_retry", "failed", declined),
        (T0 + 5 * DAY, "dunning_retry", "failed", declined),
        (T0 + 7 * DAY, "dunning_retry", "failed", declined),
    ]
    assert tables.notices(case.id) == [
        (T0, "payment_failed", "failed_notice"),
        (T0 + 3 * DAY, "payment_reminder", "reminder"),
        (T0 + 7 * DAY, "final_notice", "final_notice"),
    ]
    ended = tables.case(acct.invoice_id)
    assert ended is not None
    assert (ended.status, ended.retries_done, ended.steps_done, ended.suspended) == (
        CaseStatus.EXHAUSTED,
        4,
        6,
        True,
    )
    assert (ended.policy, ended.amount_minor, ended.first_decline_code, ended.ended_at) == (
        "standard",
        5000,
        declined,
        T0 + 21 * DAY,
    )
    assert ended.next_at is None
    assert billing.get(acct.sub).status == sp.CANCELED
    assert payments.invoice(acct.invoice).status == ip.OPEN  # still owed: a late payment
    assert [(e.at, e.kind, e.what) for e in ended.timeline] == [
        (T0, EntryKind.OPENED, "standard"),
        (T0, EntryKind.DECLINE, declined),
        (T0, EntryKind.STEP, "failed_notice"),
        (T0 + DAY, EntryKind.RETRY, "retries[0]"),
        (T0 + DAY, EntryKind.DECLINE, declined),
        (T0 + DAY, EntryKind.STEP, "past_due"),
        (T0 + 3 * DAY, EntryKind.RETRY, "retries[1]"),
        (T0 + 3 * DAY, EntryKind.DECLINE, declined),
        (T0 + 3 * DAY, EntryKind.STEP, "reminder"),
        (T0 + 5 * DAY, EntryKind.RETRY, "retries[2]"),
        (T0 + 5 * DAY, EntryKind.DECLINE, declined),
        (T0 + 7 * DAY, EntryKind.RETRY, "retries[3]"),
        (T0 + 7 * DAY, EntryKind.DECLINE, declined),
        (T0 + 7 * DAY, EntryKind.STEP, "final_notice"),
        (T0 + 10 * DAY, EntryKind.STEP, "suspend"),
        (T0 + 21 * DAY, EntryKind.STEP, "cancel"),
        (T0 + 21 * DAY, EntryKind.EXHAUSTED, ""),
    ]


# --- recovery -------------------------------------------------------------------------------


def set_default(payments: Payments, method: pp.PaymentMethod) -> None:
    payments.stub.SetDefaultPaymentMethod(
        pp.SetDefaultPaymentMethodRequest(payment_method=method.name, request_id=rid()),
        metadata=payments.metadata,
    )


def first_days(c: str, s: str) -> list[tuple[datetime, str, str]]:
    """The shipped policy's events of days 0 to 3."""
    return [
        (T0, "dunning.opened", c),
        (T0, "dunning.step_done", c),
        (T0 + DAY, "dunning.retried", c),
        (T0 + DAY, "dunning.step_done", c),
        (T0 + DAY, "subscription.past_due", s),
    ]


def test_paying_on_day_4_recovers_the_case_and_nothing_happens_after(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    expected = [
        *first_days(c, s),
        (T0 + 3 * DAY, "dunning.retried", c),
        (T0 + 3 * DAY, "dunning.step_done", c),
    ]
    walk = Walk(billing, clock, lambda: trail(tables, acct, c), T0)
    walk.through(expected, T0 + 4 * DAY)
    assert billing.get(acct.sub).status == sp.PAST_DUE

    visa = payments.attach(acct.customer, "tok_visa")
    set_default(payments, visa)  # the renewal on day 30 is collected by it
    paid = payments.pay(acct.invoice, visa)
    assert paid.status == pp.SUCCEEDED
    expected += [
        (T0 + 4 * DAY, "dunning.recovered", c),
        (T0 + 4 * DAY, "subscription.updated", s),  # past_due -> active
    ]
    assert trail(tables, acct, c) == expected
    walk.advance(T0 + 30 * DAY)  # past every step the policy had left, and the renewal
    assert trail(tables, acct, c) == expected

    recovered = tables.case(acct.invoice_id)
    assert recovered is not None
    assert (recovered.status, recovered.recovered_minor, recovered.ended_at) == (
        CaseStatus.RECOVERED,
        5000,
        T0 + 4 * DAY,
    )
    assert (recovered.retries_done, recovered.steps_done, recovered.next_at) == (2, 3, None)
    assert billing.get(acct.sub).status == sp.ACTIVE
    # The day-5 retry's item ran and did nothing: no charge after the payment.
    assert [a[:3] for a in tables.attempts(acct.invoice_id)] == [
        (T0, "automatic_collection", "failed"),
        (T0 + DAY, "dunning_retry", "failed"),
        (T0 + 3 * DAY, "dunning_retry", "failed"),
        (T0 + 4 * DAY, "pay_invoice", "succeeded"),
    ]
    [stale] = tables.items("dunning_step", case.id)[-1:]
    assert (stale["due_at"], stale["done_at"] is not None) == (T0 + 5 * DAY, True)
    renewal = billing.invoices_of(acct.sub)[-1]
    assert renewal.name != acct.invoice.name
    assert payments.invoice(renewal).status == ip.PAID
    assert tables.case(renewal.name.removeprefix("invoices/")) is None
    assert tables.payloads("subscription.updated", s) == [
        {
            "status": "active",
            "from": "past_due",
            "dunning_case": c,
            "reason": "dunning_recovered",
        }
    ]


def test_a_retry_succeeds_once_the_default_method_changed(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    walk = Walk(billing, clock, lambda: trail(tables, acct, c), T0)
    walk.through(first_days(c, s), T0 + 2 * DAY)
    set_default(payments, payments.attach(acct.customer, "tok_visa"))
    expected = [
        *first_days(c, s),
        # The retry's payment recovers the case in its own outcome transaction; the step
        # then records the retry that did it. The reminder just after never comes.
        (T0 + 3 * DAY, "dunning.recovered", c),
        (T0 + 3 * DAY, "dunning.retried", c),
        (T0 + 3 * DAY, "subscription.updated", s),
    ]
    walk.through(expected, T0 + 29 * DAY)
    assert [a[:3] for a in tables.attempts(acct.invoice_id)] == [
        (T0, "automatic_collection", "failed"),
        (T0 + DAY, "dunning_retry", "failed"),
        (T0 + 3 * DAY, "dunning_retry", "succeeded"),
    ]
    recovered = tables.case(acct.invoice_id)
    assert recovered is not None
    assert (recovered.status, recovered.retries_done, recovered.steps_done) == (
        CaseStatus.RECOVERED,
        2,
        2,
    )
    assert [(e.at, e.kind, e.what) for e in recovered.timeline[-2:]] == [
        (T0 + 3 * DAY, EntryKind.RETRY, "retries[1]"),
        (T0 + 3 * DAY, EntryKind.RECOVERED, recovered.timeline[-1].what),
    ]
    assert recovered.timeline[-1].what.startswith("payments/pmt_")
    assert payments.invoice(acct.invoice).status == ip.PAID
    assert billing.get(acct.sub).status == sp.ACTIVE
    assert tables.notices(case.id) == [(T0, "payment_failed", "failed_notice")]


# --- declines -------------------------------------------------------------------------------


def test_a_hard_decline_stops_the_retries_at_once_and_asks_for_a_new_method(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_stolen_card")
    c, s = case.name, acct.sub.name
    # No retry: the steps alone, each at its own offset.
    expected = [
        (T0, "dunning.opened", c),
        (T0, "dunning.retries_stopped", c),
        (T0, "dunning.step_done", c),
        (T0 + DAY, "dunning.step_done", c),
        (T0 + DAY, "subscription.past_due", s),
        (T0 + 3 * DAY, "dunning.step_done", c),
        (T0 + 7 * DAY, "dunning.step_done", c),
        (T0 + 10 * DAY, "dunning.step_done", c),
        (T0 + 10 * DAY, "subscription.suspended", s),
        (T0 + 21 * DAY, "dunning.exhausted", c),
        (T0 + 21 * DAY, "dunning.step_done", c),
        (T0 + 21 * DAY, "subscription.canceled", s),
    ]
    Walk(billing, clock, lambda: trail(tables, acct, c), T0).through(expected, T0 + 22 * DAY)
    assert tables.attempts(acct.invoice_id) == [
        (T0, "automatic_collection", "failed", "stolen_card")
    ]
    assert tables.notices(case.id) == [
        (T0, "update_payment_method", "hard_decline"),
        (T0 + JUST_AFTER, "payment_failed", "failed_notice"),
        (T0 + 3 * DAY, "payment_reminder", "reminder"),
        (T0 + 7 * DAY, "final_notice", "final_notice"),
    ]
    ended = tables.case(acct.invoice_id)
    assert ended is not None
    assert (ended.retries_stopped, ended.retries_done, ended.decline_code) == (
        True,
        0,
        "stolen_card",
    )


def test_a_hard_decline_on_a_retry_stops_the_retries_after_it(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    walk = Walk(billing, clock, lambda: trail(tables, acct, c), T0)
    walk.through(first_days(c, s), T0 + 2 * DAY)
    set_default(payments, payments.attach(acct.customer, "tok_lost_card"))
    expected = [
        *first_days(c, s),
        (T0 + 3 * DAY, "dunning.retried", c),
        (T0 + 3 * DAY, "dunning.retries_stopped", c),
        (T0 + 3 * DAY, "dunning.step_done", c),  # reminder
        (T0 + 7 * DAY, "dunning.step_done", c),  # final_notice: no retry beside it now
        (T0 + 10 * DAY, "dunning.step_done", c),
        (T0 + 10 * DAY, "subscription.suspended", s),
    ]
    walk.through(expected, T0 + 11 * DAY)
    assert [a[1:] for a in tables.attempts(acct.invoice_id)] == [
        ("automatic_collection", "failed", "insufficient_funds"),
        ("dunning_retry", "failed", "insufficient_funds"),
        ("dunning_retry", "failed", "lost_card"),
    ]
    assert tables.notices(case.id) == [
        (T0, "payment_failed", "failed_notice"),
        (T0 + 3 * DAY, "update_payment_method", "hard_decline"),
        (T0 + 3 * DAY + JUST_AFTER, "payment_reminder", "reminder"),
        (T0 + 7 * DAY, "final_notice", "final_notice"),
    ]
    # The attempt's own dunning_attempt_failed item came after the step had applied it.
    [retry_attempt] = [
        e.attempt_id
        for e in tables.case(acct.invoice_id).timeline  # type: ignore[union-attr]
        if e.kind is EntryKind.RETRIES_STOPPED
    ]
    [item] = tables.items("dunning_attempt_failed", retry_attempt)
    assert (item["due_at"], item["done_at"] is not None) == (T0 + 3 * DAY, True)


def test_requires_action_sends_the_authentication_notice_and_the_schedule_goes_on(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_requires_action")
    assert (case.first_decline_code, case.retries_stopped) == ("authentication_required", False)
    walk = Walk(billing, clock, lambda: trail(tables, acct, case.name), T0)
    walk.advance(T0 + DAY)
    assert tables.notices(case.id) == [
        (T0, "authenticate_payment", "requires_action"),
        (T0 + JUST_AFTER, "payment_failed", "failed_notice"),
    ]
    # The first attempt still waits for the customer: the day-1 retry is skipped, not sent.
    assert [a[1:3] for a in tables.attempts(acct.invoice_id)] == [
        ("automatic_collection", "requires_action")
    ]
    after = tables.case(acct.invoice_id)
    assert after is not None
    [retry] = [e for e in after.timeline if e.kind is EntryKind.RETRY]
    assert (retry.at, retry.attempt_id) == (T0 + DAY, "")
    assert retry.detail.startswith("skipped: ") and "still requires_action" in retry.detail


def test_voiding_the_invoice_closes_its_case_and_lifts_past_due(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    walk = Walk(billing, clock, lambda: trail(tables, acct, c), T0)
    walk.through(first_days(c, s), T0 + 2 * DAY)
    billing.invoices.VoidInvoice(
        ip.VoidInvoiceRequest(name=acct.invoice.name, request_id=rid()),
        metadata=billing.metadata,
    )
    expected = [
        *first_days(c, s),
        (T0 + 2 * DAY, "dunning.closed", c),
        (T0 + 2 * DAY, "subscription.updated", s),
    ]
    walk.through(expected, T0 + 29 * DAY)
    closed = tables.case(acct.invoice_id)
    assert closed is not None
    assert (closed.status, closed.next_at, closed.ended_at) == (
        CaseStatus.CLOSED,
        None,
        T0 + 2 * DAY,
    )
    assert billing.get(acct.sub).status == sp.ACTIVE
    assert len(tables.attempts(acct.invoice_id)) == 2  # the collection and the day-1 retry


def test_marking_the_invoice_paid_recovers_the_whole_amount(
    channel, billing: Billing, tables: Tables
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock, acct, case = open_case(billing, payments, tables, "tok_insufficient_funds")
    c, s = case.name, acct.sub.name
    walk = Walk(billing, clock, lambda: trail(tables, acct, c), T0)
    walk.through(first_days(c, s), T0 + 2 * DAY)
    billing.invoices.MarkPaid(
        ip.MarkPaidRequest(name=acct.invoice.name, payment_reference="wire-7", request_id=rid()),
        metadata=billing.metadata,
    )
    expected = [
        *first_days(c, s),
        (T0 + 2 * DAY, "dunning.recovered", c),
        (T0 + 2 * DAY, "subscription.updated", s),
    ]
    walk.through(expected, T0 + 29 * DAY)
    recovered = tables.case(acct.invoice_id)
    assert recovered is not None
    assert (recovered.status, recovered.recovered_minor) == (CaseStatus.RECOVERED, 5000)
    assert billing.get(acct.sub).status == sp.ACTIVE


# --- the books ------------------------------------------------------------------------------

WRITE_OFF_POLICY = b"""\
kind: dunning
policies:
  - name: write_off
    grace: 10d
    retries: {after: [1d]}
    steps:
      - {name: written_off, after: 10d, action: mark_uncollectible}
cases:
  - {policy: write_off}
"""


def test_a_write_off_step_moves_the_receivable_to_bad_debt_in_the_ledger(
    channel, billing: Billing, tables: Tables, tenant: Tenant
) -> None:
    billing.push(dunning_rules(WRITE_OFF_POLICY))
    payments = Payments(channel, billing)
    clock, acct, _ = open_case(billing, payments, tables, "tok_insufficient_funds")
    ledger = ledger_pb2_grpc.LedgerServiceStub(channel)

    def balances() -> dict[str, int]:
        reply = ledger.GetTrialBalance(lp.GetTrialBalanceRequest(), metadata=tenant.metadata)
        return {r.account: r.balance.amount_minor for r in reply.rows}

    assert (balances()["accounts_receivable"], balances().get("bad_debt", 0)) == (5000, 0)
    billing.advance(clock, (T0 + 10 * DAY).isoformat())
    assert payments.invoice(acct.invoice).status == ip.UNCOLLECTIBLE
    after = balances()
    assert (after["accounts_receivable"], after["bad_debt"]) == (0, 5000)
    assert sum(after.values()) == 0
