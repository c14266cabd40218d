"""Plan-change policies beyond products and intervals (issue 11): a change the rules refuse,
cases matching plans, upgrade or downgrade decided by the price per unit of time, and
changing the billing interval (month <-> year) with proration. Over a real channel on SQLite
and PostgreSQL, with the amounts worked out by hand in each test."""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest

from billing.domain.periods import Cadence
from billing.domain.plan_changes import change_direction, recurring_amount
from billing.domain.subscriptions import Item
from billing.rules import RuleSetInvalid, json_schemas, load_rule_set_from_files
from billing_fixtures import Billing, amounts, iso
from conftest import REPO_RULES, rule_files
from grpc_helpers import error_info

# Per month: basic_monthly 30.00, pro_monthly 50.00, basic_yearly 300.00 / 12 = 25.00,
# pro_yearly 480.00 / 12 = 40.00; team_monthly 8.00 a seat.
CATALOG = """\
kind: catalog
products:
  - {code: basic, name: Basic, features: [reports]}
  - {code: pro, name: Pro, features: [reports, api_access]}
  - {code: team, name: Team, features: [seats]}
plans:
  - {code: basic_monthly, name: Basic, product: basic, interval: month,
     prices: [{currency: USD, amount: 30.00}]}
  - {code: pro_monthly, name: Pro, product: pro, interval: month,
     prices: [{currency: USD, amount: 50.00}]}
  - {code: basic_yearly, name: Basic yearly, product: basic, interval: year,
     prices: [{currency: USD, amount: 300.00}]}
  - {code: pro_yearly, name: Pro yearly, product: pro, interval: year,
     prices: [{currency: USD, amount: 480.00}]}
  - {code: team_monthly, name: Team, product: team, interval: month,
     prices: [{currency: USD, price: team_seat_usd}]}
plan_changes:
  - when: {from_product: pro, to_plan: basic_monthly}
    timing: refused
    message: Pro customers move to Basic only on a yearly plan
  - when: {direction: upgrade}
    timing: immediate
  - when: {direction: downgrade}
    timing: end_of_period
  - timing: immediate
"""
PRORATION = """\
kind: proration
cases:
  - when: {from_plan: basic_monthly, to_plan: pro_monthly}
    granularity: day
    behavior: always_invoice
    credit_unused: true
    credit_basis: billed
  - granularity: day
    behavior: create_prorations
    credit_unused: true
    credit_basis: billed
"""
PRICING = """\
kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
"""


def policy_rules() -> dict[str, bytes]:
    return {
        "catalog.yaml": CATALOG.encode(),
        "pricing.yaml": PRICING.encode(),
        "proration.yaml": PRORATION.encode(),
        "money.yaml": b"kind: money\nrounding: half_up\n",
    }


@pytest.fixture
def billing(channel, tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    b.push(policy_rules())
    return b


def subscribed(billing: Billing, plan: str, start: str = "2026-04-01T00:00:00Z", **fields):  # type: ignore[no-untyped-def]
    clock = billing.clock(start)
    customer = billing.customer(clock)
    return clock, billing.subscribe(customer, plan, **fields)


# --- a change the rules refuse ------------------------------------------------------------


def test_a_refused_change_is_failed_precondition_in_preview_and_change(billing):
    _, sub = subscribed(billing, "pro_monthly")
    for call in (billing.preview, billing.change):
        with pytest.raises(grpc.RpcError) as raised:
            call(sub, plan="basic_monthly", at="2026-04-16T00:00:00Z")
        assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        info = error_info(raised.value)
        assert info.reason == "PLAN_CHANGE_REFUSED"
        assert info.metadata["rule"] == "catalog.yaml:18 plan_changes[0]"
        message = raised.value.details()
        assert "plans/pro_monthly to plans/basic_monthly" in message
        assert "catalog.yaml:18 plan_changes[0]" in message
        assert "Pro customers move to Basic only on a yearly plan" in message
    # Nothing was written.
    current = billing.get(sub)
    assert current.plan == "plans/pro_monthly"
    assert current.etag == sub.etag
    assert amounts(billing.invoices_of(sub)[-1].lines) == [5000]
    assert len(billing.invoices_of(sub)) == 1


def test_the_refusal_matches_the_plan_not_the_product(billing):
    # Pro to Basic *yearly* is not refused: the case names the plan basic_monthly. Per month
    # 25.00 < 50.00, a downgrade: it waits for the period end.
    _, sub = subscribed(billing, "pro_monthly")
    changed = billing.change(sub, plan="basic_yearly", at="2026-04-16T00:00:00Z")
    assert list(changed.lines) == []
    assert changed.subscription.plan == "plans/pro_monthly"
    assert changed.subscription.pending_change.plan == "plans/basic_yearly"


# --- proration cases matching plans ---------------------------------------------------------


def test_a_proration_case_matching_plans_invoices_that_change_at_once(billing):
    # basic_monthly -> pro_monthly matches the first proration case (always_invoice).
    # 16 April: 15 of April's 30 days left. Credit -30.00 x 15/30 = -15.00; charge
    # 50.00 x 15/30 = +25.00; an invoice of 10.00 at once.
    _, sub = subscribed(billing, "basic_monthly")
    changed = billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == [-1500, 2500]
    assert changed.invoice
    invoice = billing.invoices_of(sub)[-1]
    assert invoice.name == changed.invoice
    assert invoice.total.amount_minor == 1000


# --- upgrade or downgrade by price per unit of time -------------------------------------------


def test_more_seats_is_an_upgrade_at_once_and_fewer_a_downgrade_at_period_end(billing):
    # 3 seats x 8.00 = 24.00 a month. 5 seats (40.00) is an upgrade: immediate, prorated by
    # the catch-all case (create_prorations, nothing invoiced yet): 16 April, 15/30 left:
    # credit -24.00 x 15/30 = -12.00, charge 40.00 x 15/30 = +20.00.
    _, sub = subscribed(billing, "team_monthly", quantities={"prices/team_seat_usd": 3})
    up = billing.change(sub, at="2026-04-16T00:00:00Z", quantities={"prices/team_seat_usd": 5})
    assert amounts(up.lines) == [-1200, 2000]
    assert not up.invoice
    assert [i.quantity for i in up.subscription.items] == [5]
    # Back to 2 seats (16.00 < 40.00): a downgrade, waiting for 1 May.
    down = billing.change(
        up.subscription, at="2026-04-20T00:00:00Z", quantities={"prices/team_seat_usd": 2}
    )
    assert list(down.lines) == []
    assert [i.quantity for i in down.subscription.items] == [5]
    assert [i.quantity for i in down.subscription.pending_change.items] == [2]
    assert iso(down.subscription.pending_change.effective_time) == "2026-05-01T00:00:00Z"


def test_a_yearly_price_is_compared_as_its_monthly_equivalent(billing):
    # Basic monthly 30.00 -> Basic yearly 300.00: 300.00 is more, but 25.00 a month is less
    # than 30.00, so it is a downgrade and waits for the end of the period.
    _, sub = subscribed(billing, "basic_monthly")
    preview = billing.preview(sub, plan="basic_yearly", at="2026-04-16T00:00:00Z")
    assert preview.at_period_end
    assert list(preview.lines) == []


# --- changing the billing interval ------------------------------------------------------------


def test_month_to_year_immediately_restarts_the_period_and_credits_the_month(billing):
    # Basic monthly (30.00, period 1 April - 1 May) -> Pro yearly (480.00 = 40.00 a month,
    # an upgrade: immediate) on 16 April. The interval changes, so the billing cycle restarts
    # on 16 April: the unused April days are credited, 15 of 30: -30.00 x 15/30 = -15.00,
    # and a full year from 16 April is charged: +480.00. One invoice at once: 465.00.
    clock, sub = subscribed(billing, "basic_monthly")
    preview = billing.preview(sub, plan="pro_yearly", at="2026-04-16T00:00:00Z")
    assert not preview.at_period_end
    assert amounts(preview.lines) == [-1500, 48000]
    changed = billing.change(sub, plan="pro_yearly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == [-1500, 48000]
    assert [line.proration_factor for line in changed.lines] == ["15/30 days", ""]
    after = changed.subscription
    assert after.plan == "plans/pro_yearly"
    assert iso(after.billing_cycle_anchor) == "2026-04-16T00:00:00Z"
    assert (iso(after.current_period_start), iso(after.current_period_end)) == (
        "2026-04-16T00:00:00Z",
        "2027-04-16T00:00:00Z",
    )
    assert changed.invoice
    invoices = billing.invoices_of(sub)
    assert len(invoices) == 2
    update = invoices[-1]
    assert update.name == changed.invoice
    assert update.billing_reason == "subscription_update"
    assert amounts(update.lines) == [-1500, 48000]
    assert update.total.amount_minor == 46500
    assert (iso(update.period_start), iso(update.period_end)) == (
        "2026-04-16T00:00:00Z",
        "2027-04-16T00:00:00Z",
    )
    # The old 1 May renewal does nothing; the next one is 16 April 2027, for 480.00.
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert len(billing.invoices_of(sub)) == 2
    billing.advance(clock, "2027-04-16T00:00:00Z")
    renewal = billing.invoices_of(sub)[-1]
    assert len(billing.invoices_of(sub)) == 3
    assert iso(renewal.create_time) == "2027-04-16T00:00:00Z"
    assert amounts(renewal.lines) == [48000]


def test_year_to_month_immediately_credits_the_rest_of_the_year(billing):
    # Pro yearly (480.00 = 40.00 a month) since 1 January 2026 -> Pro monthly (50.00, an
    # upgrade: immediate) on 1 April 2026. Days left of the year 1 Jan 2026 - 1 Jan 2027
    # (365 days) from 1 April: 30+31+30+31+31+30+31+30+31 = 275. Credit
    # -480.00 x 275/365 = -361.6438... = -361.64; a full month 1 April - 1 May: +50.00.
    # The lines come to -311.64: the invoice moves that excess to the customer's credit
    # balance with an account-credit line of +311.64, so its total is 0.00.
    clock, sub = subscribed(billing, "pro_yearly", start="2026-01-01T00:00:00Z")
    billing.advance(clock, "2026-04-01T00:00:00Z")
    changed = billing.change(sub, plan="pro_monthly", at="2026-04-01T00:00:00Z")
    assert amounts(changed.lines) == [-36164, 5000]
    assert [line.proration_factor for line in changed.lines] == ["275/365 days", ""]
    after = changed.subscription
    assert iso(after.billing_cycle_anchor) == "2026-04-01T00:00:00Z"
    assert (iso(after.current_period_start), iso(after.current_period_end)) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    )
    update = billing.invoices_of(sub)[-1]
    assert update.name == changed.invoice
    assert amounts(update.lines) == [-36164, 5000, 31164]
    assert update.total.amount_minor == 0
    # Monthly from then on: 1 May renews for 50.00.
    billing.advance(clock, "2026-05-01T00:00:00Z")
    renewal = billing.invoices_of(sub)[-1]
    assert iso(renewal.create_time) == "2026-05-01T00:00:00Z"
    assert (iso(renewal.period_start), iso(renewal.period_end)) == (
        "2026-05-01T00:00:00Z",
        "2026-06-01T00:00:00Z",
    )
    assert amounts(renewal.lines) == [5000]


def test_month_to_year_at_period_end_starts_the_year_at_the_period_end(billing):
    # Basic monthly -> Basic yearly is a downgrade by the monthly equivalent (25.00 < 30.00):
    # end_of_period. Nothing happens on 16 April; on 1 May the yearly period starts and is
    # invoiced in full: 300.00 for 1 May 2026 - 1 May 2027. No renewal on 1 June.
    clock, sub = subscribed(billing, "basic_monthly")
    changed = billing.change(sub, plan="basic_yearly", at="2026-04-16T00:00:00Z")
    assert list(changed.lines) == []
    assert not changed.invoice
    assert changed.subscription.plan == "plans/basic_monthly"
    assert iso(changed.subscription.pending_change.effective_time) == "2026-05-01T00:00:00Z"
    billing.advance(clock, "2026-05-01T00:00:00Z")
    current = billing.get(sub)
    assert current.plan == "plans/basic_yearly"
    assert (iso(current.current_period_start), iso(current.current_period_end)) == (
        "2026-05-01T00:00:00Z",
        "2027-05-01T00:00:00Z",
    )
    renewal = billing.invoices_of(sub)[-1]
    assert (iso(renewal.period_start), iso(renewal.period_end)) == (
        "2026-05-01T00:00:00Z",
        "2027-05-01T00:00:00Z",
    )
    assert amounts(renewal.lines) == [30000]
    billing.advance(clock, "2026-06-01T00:00:00Z")
    assert len(billing.invoices_of(sub)) == 2


def test_an_interval_change_in_trial_bills_the_new_interval_from_the_trial_end(billing):
    # In trial nothing is charged for a change; the yearly interval starts when billing
    # does: the trial ends 15 April, so 480.00 for 15 April 2026 - 15 April 2027.
    clock, sub = subscribed(billing, "basic_monthly", trial_days=14)
    changed = billing.change(sub, plan="pro_yearly", at="2026-04-05T00:00:00Z")
    assert list(changed.lines) == []
    assert changed.subscription.plan == "plans/pro_yearly"
    billing.advance(clock, "2026-04-15T00:00:00Z")
    [first] = billing.invoices_of(sub)
    assert amounts(first.lines) == [48000]
    assert (iso(first.period_start), iso(first.period_end)) == (
        "2026-04-15T00:00:00Z",
        "2027-04-15T00:00:00Z",
    )


# --- the pure parts ----------------------------------------------------------------------------


def _items(*amounts_and_quantities: tuple[str, int]) -> tuple[Item, ...]:
    return tuple(
        Item(None, quantity, Decimal(amount), "x", Decimal(amount))
        for amount, quantity in amounts_and_quantities
    )


MONTH, YEAR, QUARTER = Cadence("month"), Cadence("year"), Cadence("month", 3)
DAY, WEEK = Cadence("day"), Cadence("week")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ((_items(("30.00", 1)), MONTH), (_items(("300.00", 1)), YEAR), "downgrade"),  # 25 < 30
        ((_items(("30.00", 1)), MONTH), (_items(("360.00", 1)), YEAR), "same"),  # 30 = 30
        ((_items(("30.00", 1)), MONTH), (_items(("360.01", 1)), YEAR), "upgrade"),
        ((_items(("90.00", 1)), QUARTER), (_items(("30.00", 1)), MONTH), "same"),
        ((_items(("7.00", 1)), WEEK), (_items(("1.00", 1)), DAY), "same"),
        # A month is a twelfth of a 365-day year: 1.00 a day = 30.41666... a month.
        ((_items(("1.00", 1)), DAY), (_items(("30.42", 1)), MONTH), "upgrade"),
        ((_items(("1.00", 1)), DAY), (_items(("30.41", 1)), MONTH), "downgrade"),
        # Quantities count: 3 x 8.00 = 24.00 against 2 x 8.00 + 10.00 = 26.00.
        ((_items(("8.00", 3)), MONTH), (_items(("8.00", 2), ("10.00", 1)), MONTH), "upgrade"),
    ],
)
def test_direction_compares_the_price_per_unit_of_time_exactly(old, new, expected):
    assert change_direction(old[0], old[1], new[0], new[1]) == expected


def test_recurring_amount_sums_quantity_times_unit_amount():
    assert recurring_amount(_items(("8.00", 3), ("10.005", 2))) == Decimal("44.010")


def test_rules_refuse_unknown_plans_and_a_message_without_refusal():
    catalog = CATALOG.replace("to_plan: basic_monthly", "to_plan: gold_monthly").replace(
        "  - when: {direction: upgrade}\n    timing: immediate\n",
        "  - when: {direction: upgrade}\n    timing: immediate\n    message: no\n",
    )
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(
            {"catalog.yaml": catalog.encode(), "pricing.yaml": PRICING.encode()},
            {"pricing_model": {"per_unit"}},
        )
    assert [str(e) for e in raised.value.errors] == [
        "catalog.yaml:18:40: plan_changes[0].when.to_plan: unknown plan 'gold_monthly'",
        "catalog.yaml:23:5: plan_changes[1].message: a message is shown only for a change the"
        " rules refuse (timing: refused)",
    ]


def test_the_json_schema_knows_the_new_match_fields_and_timing():
    catalog = json_schemas()["catalog"]
    case = catalog["properties"]["plan_changes"]["items"]
    when = case["properties"]["when"]["properties"]
    assert when["direction"]["enum"] == ["upgrade", "downgrade", "same"]
    assert {"from_plan", "to_plan"} <= set(when)
    assert "refused" in case["properties"]["timing"]["enum"]
    assert "message" in case["properties"]
    proration_when = json_schemas()["proration"]["properties"]["cases"]["items"]["properties"]
    assert "direction" in proration_when["when"]["properties"]


# --- the worked example in rules/examples/plan_changes -------------------------------------------


@pytest.fixture
def example(channel, tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    b.push(rule_files(REPO_RULES / "examples" / "plan_changes"))
    return b


def test_the_example_refuses_pro_yearly_to_basic_monthly(example):
    _, sub = subscribed(example, "pro_yearly")
    with pytest.raises(grpc.RpcError) as raised:
        example.change(sub, plan="basic_monthly", at="2026-04-16T00:00:00Z")
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert raised.value.details() == (
        f"the rules refuse changing {sub.name} from plans/pro_yearly to plans/basic_monthly"
        " (catalog.yaml:69 plan_changes[0]): from Pro yearly, move to Basic yearly"
    )
    # Pro yearly (40.00 a month) -> Basic yearly (25.00): allowed, a downgrade, deferred.
    deferred = example.change(sub, plan="basic_yearly", at="2026-04-16T00:00:00Z")
    assert deferred.subscription.pending_change.plan == "plans/basic_yearly"


def test_the_example_basic_monthly_to_pro_yearly(example):
    # README: -30.00 x 15/30 = -15.00 and +480.00 for 16 April 2026 - 16 April 2027: 465.00.
    _, sub = subscribed(example, "basic_monthly")
    changed = example.change(sub, plan="pro_yearly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == [-1500, 48000]
    invoice = example.invoices_of(sub)[-1]
    assert invoice.name == changed.invoice
    assert invoice.total.amount_minor == 46500
    assert iso(changed.subscription.current_period_end) == "2027-04-16T00:00:00Z"
