"""Billing days over a real channel, on SQLite and PostgreSQL: the anchor day kept through a
trial, how the first stub is charged, the customer's bill cycle day, add-ons aligned to their
base subscription. Basic 30.00 and Pro 50.00 monthly, Basic yearly 300.00; amounts by hand."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing_client.v1 import customers_pb2
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, amounts, iso, rules, ts
from grpc_helpers import error_info, field_violations


@pytest.fixture
def billing(channel, tenant) -> Billing:
    billing = Billing(channel, tenant.metadata)
    billing.push(rules())
    return billing


def customer_on_clock(billing: Billing, at: str, bill_cycle_day: int = 0):  # type: ignore[no-untyped-def]
    clock = billing.clock(at)
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Acme",
                currency_code="USD",
                clock=clock.name,
                bill_cycle_day=bill_cycle_day,
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    return clock, customer


def periods_of(billing: Billing, sub: sp.Subscription) -> list[tuple[str, str, int]]:
    return [
        (iso(i.period_start)[:10], iso(i.period_end)[:10], i.total.amount_minor)
        for i in billing.invoices_of(sub)
    ]


# --- the anchor day kept through a trial ------------------------------------------------------


def test_a_trial_ends_in_a_stub_up_to_the_anchor_day(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    sub = billing.subscribe(customer, "basic_monthly", trial_days=14, billing_cycle_anchor_day=1)
    assert sub.status == sp.TRIALING
    billing.advance(clock, "2026-03-15T00:00:00Z")  # the trial ends
    # Stub Mar 15 - Apr 1: 17 of March's 31 days; 30.00 x 17/31 = 16.4516 -> 16.45.
    [stub] = billing.invoices_of(sub)
    assert (iso(stub.period_start), iso(stub.period_end)) == (
        "2026-03-15T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    assert amounts(stub.lines) == [1645]
    assert stub.lines[0].proration_factor == "17/31 days"
    current = billing.get(sub)
    assert iso(current.billing_cycle_anchor) == "2026-04-01T00:00:00Z"
    assert current.billing_cycle_anchor_day == 1  # kept on the subscription
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert periods_of(billing, sub) == [
        ("2026-03-15", "2026-04-01", 1645),
        ("2026-04-01", "2026-05-01", 3000),
        ("2026-05-01", "2026-06-01", 3000),
    ]


def test_a_trial_ending_mid_april_keeps_an_anchor_on_the_31st(billing):
    clock, customer = customer_on_clock(billing, "2026-04-01T00:00:00Z")
    sub = billing.subscribe(customer, "basic_monthly", trial_days=14, billing_cycle_anchor_day=31)
    billing.advance(clock, "2026-06-30T00:00:00Z")
    # Trial ends Apr 15; stub Apr 15 - Apr 30 of the month Mar 31 - Apr 30 (30 days):
    # 30.00 x 15/30 = 15.00. Then month ends: May 31, Jun 30 (clamped), back to the 31st.
    assert periods_of(billing, sub) == [
        ("2026-04-15", "2026-04-30", 1500),
        ("2026-04-30", "2026-05-31", 3000),
        ("2026-05-31", "2026-06-30", 3000),
        ("2026-06-30", "2026-07-31", 3000),
    ]


# --- how the first stub is charged ------------------------------------------------------------


def test_the_first_stub_is_prorated_by_default_and_on_request(billing):
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        billing_cycle_anchor_day=1,
        first_stub_proration=sp.FIRST_STUB_PRORATE,
    )
    [invoice] = billing.invoices_of(sub)
    assert amounts(invoice.lines) == [2129]  # 30.00 x 22/31 = 21.2903 -> 21.29
    assert invoice.lines[0].proration_factor == "22/31 days"


def test_a_free_first_stub_invoices_nothing_until_the_anchor(billing):
    clock, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        billing_cycle_anchor_day=1,
        first_stub_proration=sp.FIRST_STUB_NONE,
    )
    assert billing.invoices_of(sub) == []  # Mar 10 - Apr 1 is free
    assert sub.status == sp.ACTIVE
    assert (iso(sub.current_period_start), iso(sub.current_period_end)) == (
        "2026-03-10T00:00:00Z",
        "2026-04-01T00:00:00Z",
    )
    assert sub.first_stub_proration == sp.FIRST_STUB_NONE
    billing.advance(clock, "2026-04-01T00:00:00Z")
    [first] = billing.invoices_of(sub)
    assert first.billing_reason == "subscription_cycle"
    assert periods_of(billing, sub) == [("2026-04-01", "2026-05-01", 3000)]


def test_a_full_price_first_stub(billing):
    clock, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        billing_cycle_anchor_day=1,
        first_stub_proration=sp.FIRST_STUB_FULL,
    )
    [stub] = billing.invoices_of(sub)
    assert amounts(stub.lines) == [3000]  # 22 days at a whole month's 30.00
    assert stub.lines[0].proration_factor == ""
    billing.advance(clock, "2026-04-01T00:00:00Z")
    assert periods_of(billing, sub) == [
        ("2026-03-10", "2026-04-01", 3000),
        ("2026-04-01", "2026-05-01", 3000),
    ]


@pytest.mark.parametrize(
    ("stub", "expected"),
    [
        # Trial Mar 1 - Mar 15, stub Mar 15 - Apr 1: free, or 30.00 for the 17 days.
        (sp.FIRST_STUB_NONE, [("2026-04-01", "2026-05-01", 3000)]),
        (
            sp.FIRST_STUB_FULL,
            [("2026-03-15", "2026-04-01", 3000), ("2026-04-01", "2026-05-01", 3000)],
        ),
    ],
)
def test_the_stub_after_a_trial_is_charged_as_asked(billing, stub, expected):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        trial_days=14,
        billing_cycle_anchor_day=1,
        first_stub_proration=stub,
    )
    billing.advance(clock, "2026-04-01T00:00:00Z")
    assert periods_of(billing, sub) == expected


def test_a_start_on_the_anchor_day_has_no_stub_to_make_free(billing):
    _, customer = customer_on_clock(billing, "2026-04-01T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        billing_cycle_anchor_day=1,
        first_stub_proration=sp.FIRST_STUB_NONE,
    )
    assert periods_of(billing, sub) == [("2026-04-01", "2026-05-01", 3000)]


# --- the customer's bill cycle day ------------------------------------------------------------


def test_monthly_subscriptions_align_to_the_customers_bill_cycle_day(billing):
    clock, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z", bill_cycle_day=15)
    sub = billing.subscribe(customer, "basic_monthly")
    [stub] = billing.invoices_of(sub)
    # Stub Mar 10 - Mar 15 of the month Feb 15 - Mar 15 (28 days): 30.00 x 5/28 = 5.3571 -> 5.36.
    assert stub.lines[0].proration_factor == "5/28 days"
    assert (customer.bill_cycle_day, sub.billing_cycle_anchor_day) == (15, 15)
    billing.advance(clock, "2026-04-15T00:00:00Z")
    assert periods_of(billing, sub) == [
        ("2026-03-10", "2026-03-15", 536),
        ("2026-03-15", "2026-04-15", 3000),
        ("2026-04-15", "2026-05-15", 3000),
    ]


def test_yearly_subscriptions_align_to_the_customers_bill_cycle_day(billing):
    clock, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z", bill_cycle_day=15)
    sub = billing.subscribe(customer, "basic_yearly")
    [stub] = billing.invoices_of(sub)
    # Stub Mar 10 - Mar 15 of the year 2025-03-15 - 2026-03-15 (365 days):
    # 300.00 x 5/365 = 4.1096 -> 4.11.
    assert stub.lines[0].proration_factor == "5/365 days"
    billing.advance(clock, "2026-03-15T00:00:00Z")
    assert periods_of(billing, sub) == [
        ("2026-03-10", "2026-03-15", 411),
        ("2026-03-15", "2027-03-15", 30000),
    ]


def test_a_bill_cycle_day_of_31_clamps_to_the_month_end(billing):
    clock, customer = customer_on_clock(billing, "2026-04-10T00:00:00Z", bill_cycle_day=31)
    sub = billing.subscribe(customer, "basic_monthly")
    billing.advance(clock, "2026-05-31T00:00:00Z")
    # Apr 10 - Apr 30 of Mar 31 - Apr 30 (30 days): 30.00 x 20/30 = 20.00.
    assert periods_of(billing, sub) == [
        ("2026-04-10", "2026-04-30", 2000),
        ("2026-04-30", "2026-05-31", 3000),
        ("2026-05-31", "2026-06-30", 3000),
    ]


def test_the_subscriptions_own_anchor_day_wins_over_the_customers(billing):
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z", bill_cycle_day=15)
    sub = billing.subscribe(customer, "basic_monthly", billing_cycle_anchor_day=1)
    assert periods_of(billing, sub) == [("2026-03-10", "2026-04-01", 2129)]  # 30.00 x 22/31


def test_the_customers_bill_cycle_day_survives_a_trial(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z", bill_cycle_day=1)
    sub = billing.subscribe(customer, "basic_monthly", trial_days=14)
    billing.advance(clock, "2026-04-01T00:00:00Z")
    # Trial to Mar 15, then 30.00 x 17/31 = 16.45 up to the 1st.
    assert periods_of(billing, sub) == [
        ("2026-03-15", "2026-04-01", 1645),
        ("2026-04-01", "2026-05-01", 3000),
    ]


@pytest.mark.parametrize("day", [-1, 32])
def test_a_bill_cycle_day_outside_1_to_31_is_refused(billing, day):
    with pytest.raises(grpc.RpcError) as failure:
        customer_on_clock(billing, "2026-03-10T00:00:00Z", bill_cycle_day=day)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "customer.bill_cycle_day" in field_violations(failure.value)


def test_the_bill_cycle_day_can_be_updated(billing):
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")

    def update(day: int) -> customers_pb2.Customer:
        return billing.customers.UpdateCustomer(
            customers_pb2.UpdateCustomerRequest(
                customer=customers_pb2.Customer(name=customer.name, bill_cycle_day=day),
                update_mask={"paths": ["bill_cycle_day"]},
                request_id=uuid.uuid4().hex,
            ),
            metadata=billing.metadata,
        )

    assert update(20).bill_cycle_day == 20
    with pytest.raises(grpc.RpcError) as failure:
        update(40)
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "customer.bill_cycle_day" in field_violations(failure.value)
    read = billing.customers.GetCustomer(
        customers_pb2.GetCustomerRequest(name=customer.name), metadata=billing.metadata
    )
    assert read.bill_cycle_day == 20


# --- add-ons aligned to their base subscription -----------------------------------------------


def test_an_add_on_stubs_to_its_base_subscriptions_next_period_end(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")  # Mar 1 - Apr 1
    billing.advance(clock, "2026-03-11T00:00:00Z")
    add_on = billing.subscribe(customer, "pro_monthly", base_subscription=base.name)
    [stub] = billing.invoices_of(add_on)
    # Mar 11 - Apr 1 of Mar 1 - Apr 1 (31 days): 50.00 x 21/31 = 33.8710 -> 33.87.
    assert stub.lines[0].proration_factor == "21/31 days"
    assert add_on.base_subscription == base.name
    billing.advance(clock, "2026-04-01T00:00:00Z")
    assert periods_of(billing, add_on) == [
        ("2026-03-11", "2026-04-01", 3387),
        ("2026-04-01", "2026-05-01", 5000),
    ]
    assert periods_of(billing, base)[-1] == ("2026-04-01", "2026-05-01", 3000)


def test_an_add_on_follows_a_base_anchored_on_the_31st(billing):
    clock, customer = customer_on_clock(billing, "2026-01-31T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")  # ends Feb 28, Mar 31, Apr 30, May 31
    billing.advance(clock, "2026-04-10T00:00:00Z")
    add_on = billing.subscribe(customer, "pro_monthly", base_subscription=base.name)
    billing.advance(clock, "2026-05-31T00:00:00Z")
    # Apr 10 - Apr 30 of the base's Mar 31 - Apr 30 (30 days): 50.00 x 20/30 = 33.3333 -> 33.33;
    # then the base's own ends, back on the 31st.
    assert periods_of(billing, add_on) == [
        ("2026-04-10", "2026-04-30", 3333),
        ("2026-04-30", "2026-05-31", 5000),
        ("2026-05-31", "2026-06-30", 5000),
    ]


def test_an_add_on_with_a_trial_aligns_when_its_trial_ends(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")
    add_on = billing.subscribe(customer, "pro_monthly", base_subscription=base.name, trial_days=14)
    billing.advance(clock, "2026-04-01T00:00:00Z")
    # Trial to Mar 15, then Mar 15 - Apr 1 of 31 days: 50.00 x 17/31 = 27.4194 -> 27.42.
    assert periods_of(billing, add_on) == [
        ("2026-03-15", "2026-04-01", 2742),
        ("2026-04-01", "2026-05-01", 5000),
    ]


def test_an_add_on_with_a_free_stub(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")
    billing.advance(clock, "2026-03-11T00:00:00Z")
    add_on = billing.subscribe(
        customer,
        "pro_monthly",
        base_subscription=base.name,
        first_stub_proration=sp.FIRST_STUB_NONE,
    )
    billing.advance(clock, "2026-04-01T00:00:00Z")
    assert periods_of(billing, add_on) == [("2026-04-01", "2026-05-01", 5000)]


def _refused(billing: Billing, customer, plan: str = "pro_monthly", **fields):  # type: ignore[no-untyped-def]
    before = len(
        billing.subs.ListSubscriptions(
            sp.ListSubscriptionsRequest(customer=customer.name), metadata=billing.metadata
        ).subscriptions
    )
    with pytest.raises(grpc.RpcError) as failure:
        billing.subscribe(customer, plan, **fields)
    after = billing.subs.ListSubscriptions(
        sp.ListSubscriptionsRequest(customer=customer.name), metadata=billing.metadata
    ).subscriptions
    assert len(after) == before  # nothing written
    return failure.value


def test_an_add_on_refuses_a_base_it_cannot_align_to(billing):
    clock, customer = customer_on_clock(billing, "2026-03-01T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")
    other = billing.customer(clock)
    theirs = billing.subscribe(other, "basic_monthly")

    error = _refused(billing, customer, base_subscription=theirs.name)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "base_subscription" in field_violations(error)

    error = _refused(billing, customer, base_subscription="sub_1")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "base_subscription" in field_violations(error)

    error = _refused(billing, customer, base_subscription=base.name, billing_cycle_anchor_day=1)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "billing_cycle_anchor_day" in field_violations(error)

    error = _refused(
        billing, customer, base_subscription="subscriptions/sub_01ARZ3NDEKTSV4RRFFQ69G5FAV"
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND

    trialing = billing.subscribe(customer, "basic_monthly", trial_days=14)
    error = _refused(billing, customer, base_subscription=trialing.name)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(error).reason == "BASE_NOT_BILLING"

    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=base.name, immediately=True, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    error = _refused(billing, customer, base_subscription=base.name)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(error).reason == "BASE_NOT_BILLING"


def test_an_upgrade_during_a_free_stub_credits_nothing_for_it(billing):
    # Nothing was paid for Mar 10 - Apr 1, so moving to Pro on Mar 21 credits no Basic time.
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        billing_cycle_anchor_day=1,
        first_stub_proration=sp.FIRST_STUB_NONE,
    )
    changed = billing.change(sub, plan="pro_monthly", at="2026-03-21T00:00:00Z")
    assert [
        line.amount.amount_minor for line in changed.lines if line.amount.amount_minor < 0
    ] == []


def test_an_anchor_day_on_a_weekly_plan_is_refused(channel, tenant):
    # A stub Mar 10 - Apr 1 would be three weeks of a one-week interval.
    billing = Billing(channel, tenant.metadata)
    files = rules()
    files["catalog.yaml"] = files["catalog.yaml"].replace(
        b"plan_changes:",
        b"  - {code: basic_weekly, name: Basic weekly, product: basic, interval: week,"
        b" prices: [{currency: USD, amount: 7.00}]}\nplan_changes:",
    )
    billing.push(files)
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z", bill_cycle_day=1)
    error = _refused(billing, customer, plan="basic_weekly", billing_cycle_anchor_day=1)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "billing_cycle_anchor_day" in field_violations(error)
    # The customer's bill cycle day is for monthly and yearly plans: a weekly one ignores it.
    sub = billing.subscribe(customer, "basic_weekly")
    assert periods_of(billing, sub) == [("2026-03-10", "2026-03-17", 700)]


def test_an_add_on_cannot_start_before_its_base(billing):
    _, customer = customer_on_clock(billing, "2026-03-10T00:00:00Z")
    base = billing.subscribe(customer, "basic_monthly")
    error = _refused(
        billing, customer, base_subscription=base.name, start_time=ts("2026-03-01T00:00:00Z")
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(error).reason == "BASE_NOT_BILLING"
