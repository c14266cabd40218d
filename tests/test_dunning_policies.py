"""Which policy a case follows (ADR 0043), over real gRPC on both backends: the first case of
the rules that holds chooses it at opening (two customers of one clock run, each on its
own), and the case keeps it, from the rule set it opened under, through a later push; a
customer on hold gets a paused case that does nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime

import pytest

from billing.app.dunning_ports import DunningHold
from billing.domain.dunning import CaseStatus
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import customers_pb2
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import Server, Tenant
from dunning_walk import (
    DAY,
    SHIPPED_DUNNING,
    START,
    Tables,
    Walk,
    account,
    dunning_rules,
)
from payments_fixtures import Payments

T0 = START

ENTERPRISE_POLICY = b"""
  - name: enterprise
    grace: 14d
    retries: {after: [2d, 6d]}
    declines: {hard_notice: update_payment_method}
    steps:
      - {name: failed_notice, after: 0d, action: notice, template: payment_failed}
      - {name: past_due, after: 5d, action: mark_past_due}
      - {name: suspend, after: 14d, action: suspend}
      - {name: cancel, after: 25d, action: cancel_at_period_end}
"""
TWO_POLICIES = SHIPPED_DUNNING.replace(
    b"\npolicies:\n", b"\npolicies:\n" + ENTERPRISE_POLICY
).replace(
    b"cases:\n  - {policy: standard}",
    b"cases:\n  - {when: {segments: [enterprise]}, policy: enterprise}\n  - {policy: standard}",
)
# The standard policy as a later push has it: retried once, on day 4, canceled on day 12.
REVISED = b"""kind: dunning
policies:
  - name: standard
    grace: 12d
    retries: {after: [4d]}
    steps:
      - {name: warned, after: 0d, action: notice, template: final_notice}
      - {name: cancel, after: 12d, action: cancel_now}
cases:
  - {policy: standard}
"""


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


@pytest.fixture
def tables(server: Server, tenant: Tenant) -> Tables:
    return Tables(server, tenant.id)


def shipped_walk(c: str, s: str, t0: datetime, through_day: int) -> list[tuple[datetime, str, str]]:
    """The shipped standard policy's events for a case opened at `t0`, up to a day."""
    events = [
        (t0, "dunning.opened", c),
        (t0, "dunning.step_done", c),
        (t0 + DAY, "dunning.retried", c),
        (t0 + DAY, "dunning.step_done", c),
        (t0 + DAY, "subscription.past_due", s),
        (t0 + 3 * DAY, "dunning.retried", c),
        (t0 + 3 * DAY, "dunning.step_done", c),
        (t0 + 5 * DAY, "dunning.retried", c),
        (t0 + 7 * DAY, "dunning.retried", c),
        (t0 + 7 * DAY, "dunning.step_done", c),
        (t0 + 10 * DAY, "dunning.step_done", c),
        (t0 + 10 * DAY, "subscription.suspended", s),
        (t0 + 21 * DAY, "dunning.exhausted", c),
        (t0 + 21 * DAY, "dunning.step_done", c),
        (t0 + 21 * DAY, "subscription.canceled", s),
    ]
    return [e for e in events if e[0] < t0 + (through_day + 1) * DAY]


def test_two_customers_on_one_clock_each_follow_the_policy_their_case_chose(
    channel, billing: Billing, tables: Tables
) -> None:
    pushed = billing.push(dunning_rules(TWO_POLICIES))
    payments = Payments(channel, billing)
    clock = billing.clock(T0.isoformat())
    small = account(billing, payments, clock, "tok_insufficient_funds")
    large = account(billing, payments, clock, "tok_insufficient_funds", segment="enterprise")
    billing.advance(clock, T0.isoformat())
    one, two = tables.case(small.invoice_id), tables.case(large.invoice_id)
    assert one is not None and two is not None
    rule_set = pushed.name.removeprefix("ruleSets/")
    assert (one.policy, one.rule_set, two.policy, two.rule_set) == (
        "standard",
        rule_set,
        "enterprise",
        rule_set,
    )
    c2, s2 = two.name, large.sub.name
    expected = sorted(
        [
            *shipped_walk(one.name, small.sub.name, T0, 30),
            (T0, "dunning.opened", c2),
            (T0, "dunning.step_done", c2),
            (T0 + 2 * DAY, "dunning.retried", c2),
            (T0 + 5 * DAY, "dunning.step_done", c2),
            (T0 + 5 * DAY, "subscription.past_due", s2),
            (T0 + 6 * DAY, "dunning.retried", c2),
            (T0 + 14 * DAY, "dunning.step_done", c2),
            (T0 + 14 * DAY, "subscription.suspended", s2),
            (T0 + 25 * DAY, "dunning.exhausted", c2),
            (T0 + 25 * DAY, "dunning.step_done", c2),
            (T0 + 25 * DAY, "subscription.updated", s2),  # cancels at its period's end
            (T0 + 30 * DAY, "subscription.canceled", s2),  # which the renewal then does
        ]
    )

    def observe() -> list[tuple[datetime, str, str]]:
        return sorted(
            tables.events(one.name, small.sub.name, small.invoice.name)
            + tables.events(c2, s2, large.invoice.name)
        )

    Walk(billing, clock, observe, T0).through(expected, T0 + 31 * DAY)
    assert [a[:2] for a in tables.attempts(large.invoice_id)] == [
        (T0, "automatic_collection"),
        (T0 + 2 * DAY, "dunning_retry"),
        (T0 + 6 * DAY, "dunning_retry"),
    ]
    assert len(tables.attempts(small.invoice_id)) == 5
    assert billing.get(small.sub).status == sp.CANCELED
    assert billing.get(large.sub).status == sp.CANCELED


def test_a_push_mid_case_leaves_the_running_case_on_its_policy(
    channel, billing: Billing, tables: Tables
) -> None:
    first = billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock = billing.clock(T0.isoformat())
    old = account(billing, payments, clock, "tok_insufficient_funds")
    billing.advance(clock, T0.isoformat())  # the collection fails at T0: the case opens
    before = tables.case(old.invoice_id)
    assert before is not None
    Walk(
        billing, clock, lambda: tables.events(before.name, old.sub.name, old.invoice.name), T0
    ).through(shipped_walk(before.name, old.sub.name, T0, 1), T0 + 2 * DAY)
    second = billing.push(dunning_rules(REVISED))
    assert second.name != first.name
    new = account(billing, payments, clock, "tok_insufficient_funds")  # fails on day 2
    t2 = T0 + 2 * DAY
    billing.advance(clock, t2.isoformat())
    running, opened = tables.case(old.invoice_id), tables.case(new.invoice_id)
    assert running is not None and opened is not None
    assert (running.rule_set, opened.rule_set) == (
        first.name.removeprefix("ruleSets/"),
        second.name.removeprefix("ruleSets/"),
    )
    c, s = opened.name, new.sub.name
    expected = sorted(
        [
            *shipped_walk(running.name, old.sub.name, T0, 21),
            (t2, "dunning.opened", c),
            (t2, "dunning.step_done", c),
            (t2 + 4 * DAY, "dunning.retried", c),
            (t2 + 12 * DAY, "dunning.exhausted", c),
            (t2 + 12 * DAY, "dunning.step_done", c),
            (t2 + 12 * DAY, "subscription.canceled", s),
        ]
    )

    def observe() -> list[tuple[datetime, str, str]]:
        return sorted(
            tables.events(running.name, old.sub.name, old.invoice.name)
            + tables.events(c, s, new.invoice.name)
        )

    walk = Walk(billing, clock, observe, t2)
    assert observe() == [e for e in expected if e[0] <= t2]
    walk.through(expected, T0 + 22 * DAY)
    assert [a[:2] for a in tables.attempts(old.invoice_id)] == [
        (T0, "automatic_collection"),
        *[(T0 + d * DAY, "dunning_retry") for d in (1, 3, 5, 7)],
    ]
    assert tables.notices(running.id) == [
        (T0, "payment_failed", "failed_notice"),
        (T0 + 3 * DAY, "payment_reminder", "reminder"),
        (T0 + 7 * DAY, "final_notice", "final_notice"),
    ]
    assert tables.notices(opened.id) == [(t2, "final_notice", "warned")]


def test_a_case_opening_under_a_customer_hold_opens_paused_and_does_nothing(
    channel, billing: Billing, tables: Tables, server: Server, tenant: Tenant
) -> None:
    billing.push(dunning_rules())
    payments = Payments(channel, billing)
    clock = billing.clock(T0.isoformat())

    def held(customer: customers_pb2.Customer) -> None:
        customer_id = customer.name.removeprefix("customers/")
        hold = DunningHold(customer_id, "disputed with sales", "finance@example.com", T0)
        asyncio.run(_put_hold(server, tenant.id, hold))

    acct = account(billing, payments, clock, "tok_stolen_card", before_subscribing=held)
    billing.advance(clock, T0.isoformat())
    case = tables.case(acct.invoice_id)
    assert case is not None
    assert (case.status, case.paused_at, case.next_at, case.retries_stopped) == (
        CaseStatus.PAUSED,
        T0,
        None,
        True,  # the hard decline still counts
    )
    billing.advance(clock, (T0 + 30 * DAY).isoformat())
    assert tables.events(case.name, acct.sub.name, acct.invoice.name) == [
        (T0, "dunning.opened", case.name),
        (T0, "dunning.paused", case.name),
        (T0, "dunning.retries_stopped", case.name),
    ]
    assert tables.notices(case.id) == []  # nothing reaches the customer while held
    assert tables.items("dunning_step", case.id) == []


async def _put_hold(server: Server, tenant_id: str, hold: DunningHold) -> None:
    """PauseDunning's hold, written as its store writes it (the API is another module's)."""
    engine = create_engine(server.database.async_url)
    try:
        async with SqlStore(engine).write(None) as tx:
            await tx.dunning_cases.put_hold(tenant_id, hold)
    finally:
        await engine.dispose()
