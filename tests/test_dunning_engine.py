"""The dunning case engine (ADR 0043) over real gRPC on both backends, walked on a simulation
clock instant by instant: each event exactly when the policy says, nothing just before it,
nothing between. The shipped policy (rules/dunning.yaml): notices on days 0, 3 and 7,
retries on days 1, 3, 5 and 7, past_due on day 1, suspension on day 10, cancellation on day
21. A retry and a step of one instant run retry first, the step just after."""

from __future__ import annotations

from datetime import datetime

import pytest

from billing.domain.dunning import CaseStatus, EntryKind
from billing_client.v1 import invoices_pb2 as ip
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
        (T0 + JUST_AFTER, "dunning.step_done", c),  # failed_notice
        (T0 + DAY, "dunning.retried", c),
        (T0 + DAY + JUST_AFTER, "dunning.step_done", c),  # past_due
        (T0 + DAY + JUST_AFTER, "subscription.past_due", s),
        (T0 + 3 * DAY, "dunning.retried", c),
        (T0 + 3 * DAY + JUST_AFTER, "dunning.step_done", c),  # reminder
        (T0 + 5 * DAY, "dunning.retried", c),
        (T0 + 7 * DAY, "dunning.retried", c),
        (T0 + 7 * DAY + JUST_AFTER, "dunning.step_done", c),  # final_notice
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
        (T0 + JUST_AFTER, "payment_failed", "failed_notice"),
        (T0 + 3 * DAY + JUST_AFTER, "payment_reminder", "reminder"),
        (T0 + 7 * DAY + JUST_AFTER, "final_notice", "final_notice"),
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
        (T0 + JUST_AFTER, EntryKind.STEP, "failed_notice"),
        (T0 + DAY, EntryKind.RETRY, "retries[0]"),
        (T0 + DAY, EntryKind.DECLINE, declined),
        (T0 + DAY + JUST_AFTER, EntryKind.STEP, "past_due"),
        (T0 + 3 * DAY, EntryKind.RETRY, "retries[1]"),
        (T0 + 3 * DAY, EntryKind.DECLINE, declined),
        (T0 + 3 * DAY + JUST_AFTER, EntryKind.STEP, "reminder"),
        (T0 + 5 * DAY, EntryKind.RETRY, "retries[2]"),
        (T0 + 5 * DAY, EntryKind.DECLINE, declined),
        (T0 + 7 * DAY, EntryKind.RETRY, "retries[3]"),
        (T0 + 7 * DAY, EntryKind.DECLINE, declined),
        (T0 + 7 * DAY + JUST_AFTER, EntryKind.STEP, "final_notice"),
        (T0 + 10 * DAY, EntryKind.STEP, "suspend"),
        (T0 + 21 * DAY, EntryKind.STEP, "cancel"),
        (T0 + 21 * DAY, EntryKind.EXHAUSTED, ""),
    ]
