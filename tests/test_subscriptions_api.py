"""Subscriptions over a real channel, on SQLite and PostgreSQL: the issue's numbers."""

from __future__ import annotations

import itertools
import uuid

import grpc
import pytest

from billing_client.v1 import invoices_pb2
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, amounts, iso, rules
from grpc_helpers import error_info


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def basic_on_clock(
    billing: Billing,
    start: str = "2026-04-01T00:00:00Z",
    plan: str = "basic_monthly",
    time_zone: str = "UTC",
    **fields,
):  # type: ignore[no-untyped-def]
    clock = billing.clock(start)
    customer = billing.customer(clock, time_zone=time_zone)
    return clock, customer, billing.subscribe(customer, plan, **fields)


def test_creation_invoices_the_first_period_in_advance(billing):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing)
    assert sub.status == sp.ACTIVE
    assert (iso(sub.current_period_start), iso(sub.current_period_end)) == (
        "2026-04-01T00:00:00Z",
        "2026-05-01T00:00:00Z",
    )
    [invoice] = billing.invoices_of(sub)
    assert invoice.billing_reason == "subscription_create"
    assert amounts(invoice.lines) == [3000]
    assert invoice.total.amount_minor == 3000
    assert invoice.amount_due.amount_minor == 3000
    assert invoice.status == invoices_pb2.OPEN


@pytest.mark.parametrize(
    ("behavior", "lines"),
    [("always_invoice", [-1500, 2500]), ("create_prorations", [-1500, 2500]), ("none", [])],
)
def test_day_granularity_upgrade_on_the_16th(billing, behavior, lines):
    billing.push(rules(granularity="day", behavior=behavior))
    clock, _, sub = basic_on_clock(billing)
    changed = billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == lines
    assert [line.proration_factor for line in changed.lines] == ["15/30 days"] * len(lines)
    assert changed.subscription.plan == "plans/pro_monthly"
    invoices = billing.invoices_of(sub)
    if behavior == "always_invoice":
        assert changed.invoice
        assert invoices[-1].name == changed.invoice
        assert invoices[-1].total.amount_minor == 1000
        assert invoices[-1].billing_reason == "subscription_update"
    else:
        assert not changed.invoice
        assert len(invoices) == 1
    if behavior == "create_prorations":
        billing.advance(clock, "2026-05-01T00:00:00Z")
        renewal = billing.invoices_of(sub)[-1]
        assert iso(renewal.create_time) == "2026-05-01T00:00:00Z"
        assert amounts(renewal.lines) == [-1500, 2500, 5000]
        assert renewal.total.amount_minor == 6000


def test_second_granularity_at_noon(billing):
    billing.push(rules(granularity="second"))
    _, _, sub = basic_on_clock(billing)
    changed = billing.change(sub, plan="pro_monthly", at="2026-04-16T12:00:00Z")
    assert amounts(changed.lines) == [-1450, 2417]
    assert changed.lines[0].proration_factor == "1252800/2592000 seconds"


def test_customer_time_zone_periods(billing):
    billing.push(rules(granularity="second", time_zone="customer"))
    _, _, sub = basic_on_clock(billing, "2026-04-01T04:00:00Z", time_zone="America/New_York")
    assert sub.billing_time_zone == "America/New_York"
    assert iso(sub.current_period_end) == "2026-05-01T04:00:00Z"
    changed = billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == [-1517, 2528]


def test_customer_time_zone_across_dst(billing):
    billing.push(rules(granularity="second", time_zone="customer"))
    _, _, sub = basic_on_clock(billing, "2026-03-01T05:00:00Z", time_zone="America/New_York")
    assert iso(sub.current_period_end) == "2026-04-01T04:00:00Z"  # 2,674,800 s
    changed = billing.change(sub, plan="pro_monthly", at="2026-03-16T12:00:00Z")
    assert amounts(changed.lines) == [-1518, 2530]
    assert changed.lines[0].proration_factor == "1353600/2674800 seconds"


def test_seats_raised_mid_period(billing):
    billing.push(rules(granularity="day"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, "team_monthly", quantities={"prices/team_seat_usd": 10})
    [first] = billing.invoices_of(sub)
    assert amounts(first.lines) == [8000]
    changed = billing.change(
        sub, quantities={"prices/team_seat_usd": 15}, at="2026-04-11T00:00:00Z"
    )
    assert amounts(changed.lines) == [-5333, 8000]
    assert sum(amounts(changed.lines)) == 2667
    assert [i.quantity for i in changed.subscription.items] == [15]


def test_preview_and_change_with_the_same_time_give_the_same_lines(billing):
    billing.push(rules(granularity="second"))
    clock, _, sub = basic_on_clock(billing)
    billing.advance(clock, "2026-04-09T07:31:13Z")
    preview = billing.preview(sub, plan="pro_monthly")
    assert iso(preview.proration_time) == "2026-04-09T07:31:13Z"
    changed = billing.change(sub, plan="pro_monthly", at=iso(preview.proration_time))
    # April has 2,592,000 s; from 09 Apr 07:31:13 to 1 May, 21 d 16:28:47 = 1,873,727 s are
    # left. Credit 30.00 x 1,873,727 / 2,592,000 = 21.6866... -> 21.69; charge 50.00 x the
    # same = 36.1444... -> 36.14.
    factor = "1873727/2592000 seconds"
    expected = [
        (f"Unused time on Basic x 1 ({factor})", invoices_pb2.PRORATION_CREDIT, 1, -2169),
        (f"Remaining time on Pro x 1 ({factor})", invoices_pb2.PRORATION_CHARGE, 1, 3614),
    ]
    for response in (preview, changed):
        assert [
            (line.description, line.kind, line.quantity, line.amount.amount_minor)
            for line in response.lines
        ] == expected
        assert [line.proration_factor for line in response.lines] == [factor, factor]
    assert iso(changed.proration_time) == iso(preview.proration_time)


def test_two_changes_against_one_etag_exactly_one_applies(billing, tenant):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing)

    def change(plan: str, seats: dict[str, int] | None = None) -> grpc.Future:
        return billing.subs.ChangeSubscription.future(
            sp.ChangeSubscriptionRequest(
                change=billing.change_request(sub, plan=plan, at="2026-04-16T00:00:00Z"),
                etag=sub.etag,
                request_id=uuid.uuid4().hex,
            ),
            metadata=tenant.with_faults(delay_ms=600),  # both hold their transaction open
        )

    outcomes = []
    for future in [change("pro_monthly"), change("team_monthly")]:
        try:
            outcomes.append(future.result(timeout=20).subscription.plan)
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.ABORTED
            assert error_info(error).reason == "ETAG_MISMATCH"
            outcomes.append("aborted")
    assert outcomes.count("aborted") == 1
    winner = next(o for o in outcomes if o != "aborted")
    current = billing.get(sub)
    assert (current.plan, current.etag) == (winner, 'W/"2"')


def test_first_period_prorated_up_to_the_anchor_day(billing):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing, "2026-03-10T00:00:00Z", billing_cycle_anchor_day=1)
    assert iso(sub.current_period_end) == "2026-04-01T00:00:00Z"
    assert iso(sub.billing_cycle_anchor) == "2026-04-01T00:00:00Z"
    [invoice] = billing.invoices_of(sub)
    assert amounts(invoice.lines) == [2129]  # 30.00 x 22/31
    assert invoice.lines[0].proration_factor == "22/31 days"


def test_a_clock_run_of_24_months(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing)
    progress = billing.advance(clock, "2028-04-01T00:00:00Z")
    assert progress[-1].finished
    assert progress[-1].remaining == 0
    assert progress[-1].done == 24 + 24  # each renewal, and each month's revenue earned
    invoices = billing.invoices_of(sub)
    assert len(invoices) == 25
    periods = [(iso(i.period_start), iso(i.period_end)) for i in invoices]
    assert periods[0] == ("2026-04-01T00:00:00Z", "2026-05-01T00:00:00Z")
    assert periods[-1] == ("2028-04-01T00:00:00Z", "2028-05-01T00:00:00Z")
    for (_, end), (start, _) in itertools.pairwise(periods):
        assert end == start  # contiguous, no overlap
    assert all(i.total.amount_minor == 3000 for i in invoices)
    assert [i.billing_reason for i in invoices].count("subscription_cycle") == 24
    current = billing.get(sub)
    assert iso(current.current_period_start) == "2028-04-01T00:00:00Z"


def test_month_end_anchor_clamps(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing, "2026-01-31T00:00:00Z")
    billing.advance(clock, "2026-05-31T00:00:00Z")
    ends = [iso(i.period_end)[:10] for i in billing.invoices_of(sub)]
    assert ends == ["2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"]


def test_leap_day_annual_anchor(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing, "2024-02-29T00:00:00Z", plan="basic_yearly")
    billing.advance(clock, "2028-02-29T00:00:00Z")
    starts = [iso(i.period_start)[:10] for i in billing.invoices_of(sub)]
    assert starts == ["2024-02-29", "2025-02-28", "2026-02-28", "2027-02-28", "2028-02-29"]


def test_downgrade_at_period_end_changes_nothing_until_then(billing):
    billing.push(rules(downgrade_at_period_end=True))
    clock, _, sub = basic_on_clock(billing, plan="pro_monthly")
    changed = billing.change(sub, plan="basic_monthly", at="2026-04-16T00:00:00Z")
    assert list(changed.lines) == []
    assert changed.subscription.plan == "plans/pro_monthly"
    assert changed.subscription.pending_change.plan == "plans/basic_monthly"
    assert iso(changed.subscription.pending_change.effective_time) == "2026-05-01T00:00:00Z"
    billing.advance(clock, "2026-04-30T23:59:59Z")
    assert billing.get(sub).plan == "plans/pro_monthly"
    assert len(billing.invoices_of(sub)) == 1
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert billing.get(sub).plan == "plans/basic_monthly"
    renewal = billing.invoices_of(sub)[-1]
    assert amounts(renewal.lines) == [3000]


def test_negative_total_becomes_credit_that_the_next_invoice_consumes(billing):
    billing.push(rules(granularity="day", behavior="always_invoice"))
    clock, _, sub = basic_on_clock(billing, plan="pro_monthly")
    changed = billing.change(sub, plan="basic_monthly", at="2026-04-16T00:00:00Z")
    assert amounts(changed.lines) == [-2500, 1500]
    downgrade = billing.invoices_of(sub)[-1]
    # Never a silent negative total: the -10.00 moves to account credit on a line of its own.
    assert amounts(downgrade.lines) == [-2500, 1500, 1000]
    assert [line.line_kind for line in downgrade.lines] == [
        invoices_pb2.PRORATION_CREDIT,
        invoices_pb2.PRORATION_CHARGE,
        invoices_pb2.ACCOUNT_CREDIT,
    ]
    assert (downgrade.total.amount_minor, downgrade.amount_due.amount_minor) == (0, 0)
    billing.advance(clock, "2026-05-01T00:00:00Z")
    renewal = billing.invoices_of(sub)[-1]
    assert renewal.total.amount_minor == 3000
    assert renewal.credit_applied.amount_minor == 1000
    assert renewal.amount_due.amount_minor == 2000


def test_cancel_at_period_end_and_reactivate(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing)
    canceling = billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, at_period_end=True, request_id="c1"),
        metadata=billing.metadata,
    )
    assert canceling.cancel_at_period_end
    reactivated = billing.subs.ReactivateSubscription(
        sp.ReactivateSubscriptionRequest(name=sub.name, request_id="r1"), metadata=billing.metadata
    )
    assert not reactivated.cancel_at_period_end
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, at_period_end=True, request_id="c2"),
        metadata=billing.metadata,
    )
    billing.advance(clock, "2026-06-01T00:00:00Z")
    ended = billing.get(sub)
    assert ended.status == sp.CANCELED
    assert iso(ended.cancel_at) == "2026-05-01T00:00:00Z"
    assert len(billing.invoices_of(sub)) == 1


def test_cancel_now_credits_unused_time_on_a_final_invoice(billing):
    billing.push(rules(granularity="day"))
    clock, _, sub = basic_on_clock(billing)
    billing.advance(clock, "2026-04-16T00:00:00Z")
    ended = billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, immediately=True, request_id="c"),
        metadata=billing.metadata,
    )
    assert ended.status == sp.CANCELED
    final = billing.invoices_of(sub)[-1]
    assert final.billing_reason == "final"
    # 15 of April's 30 days unused: 30.00 x 15/30 = 15.00 back, as account credit.
    assert amounts(final.lines) == [-1500, 1500]
    assert [line.line_kind for line in final.lines] == [
        invoices_pb2.CANCELLATION_CREDIT,
        invoices_pb2.ACCOUNT_CREDIT,
    ]
    assert final.total.amount_minor == 0
    billing.advance(clock, "2026-07-01T00:00:00Z")
    assert len(billing.invoices_of(sub)) == 2  # no renewals after the end


def test_pause_stops_billing_and_resume_starts_a_new_period(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing)
    billing.subs.PauseSubscription(
        sp.PauseSubscriptionRequest(name=sub.name, request_id="p"), metadata=billing.metadata
    )
    billing.advance(clock, "2026-06-10T00:00:00Z")
    assert len(billing.invoices_of(sub)) == 1
    resumed = billing.subs.ResumeSubscription(
        sp.ResumeSubscriptionRequest(name=sub.name, request_id="r"), metadata=billing.metadata
    )
    assert resumed.status == sp.ACTIVE
    assert (iso(resumed.current_period_start), iso(resumed.current_period_end)) == (
        "2026-06-10T00:00:00Z",
        "2026-07-10T00:00:00Z",
    )
    invoices = billing.invoices_of(sub)
    assert [iso(i.period_start) for i in invoices] == [
        "2026-04-01T00:00:00Z",
        "2026-06-10T00:00:00Z",
    ]
    billing.advance(clock, "2026-07-10T00:00:00Z")
    assert iso(billing.invoices_of(sub)[-1].period_start) == "2026-07-10T00:00:00Z"


def test_trial_then_billing(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, "basic_monthly", trial_days=14)
    assert sub.status == sp.TRIALING
    assert iso(sub.trial_end) == "2026-04-15T00:00:00Z"
    assert billing.invoices_of(sub) == []
    billing.advance(clock, "2026-04-15T00:00:00Z")
    active = billing.get(sub)
    assert active.status == sp.ACTIVE
    assert iso(active.current_period_end) == "2026-05-15T00:00:00Z"
    assert amounts(billing.invoices_of(sub)[0].lines) == [3000]


def test_entitlements_follow_the_plan(billing):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing)
    granted = billing.subs.ListEntitlements(
        sp.ListEntitlementsRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert [f.feature for f in granted.features] == ["reports"]
    billing.change(sub, plan="pro_monthly", at="2026-04-16T00:00:00Z")
    granted = billing.subs.ListEntitlements(
        sp.ListEntitlementsRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert [f.feature for f in granted.features] == ["reports", "api_access"]


def test_change_outside_the_period_is_refused(billing):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing)
    with pytest.raises(grpc.RpcError) as failure:
        billing.change(sub, plan="pro_monthly", at="2026-05-02T00:00:00Z")
    assert failure.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_subscriptions_are_per_tenant(billing, channel, other_tenant):
    billing.push(rules())
    _, _, sub = basic_on_clock(billing)
    theirs = Billing(channel, other_tenant.metadata)
    with pytest.raises(grpc.RpcError) as failure:
        theirs.get(sub)
    assert failure.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as listed:  # filtering by it: NOT_FOUND, as a get
        theirs.invoices_of(sub)
    assert listed.value.code() == grpc.StatusCode.NOT_FOUND


def test_anchor_on_the_31st_keeps_month_ends(billing):
    billing.push(rules())
    clock, _, sub = basic_on_clock(billing, "2026-04-10T00:00:00Z", billing_cycle_anchor_day=31)
    [first] = billing.invoices_of(sub)
    assert first.lines[0].proration_factor == "20/30 days"  # Apr 10-30 of Mar 31-Apr 30
    assert amounts(first.lines) == [2000]
    billing.advance(clock, "2026-07-31T00:00:00Z")
    ends = [iso(i.period_end)[:10] for i in billing.invoices_of(sub)]
    assert ends == ["2026-04-30", "2026-05-31", "2026-06-30", "2026-07-31", "2026-08-31"]


def test_phases_three_months_at_a_discount_then_list_price(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        price_overrides={"": "20.00"},
        phases=[sp.SubscriptionPhase(start_period=3)],
    )
    assert [p.start_period for p in sub.phases] == [3]
    billing.advance(clock, "2026-08-01T00:00:00Z")
    totals = [i.total.amount_minor for i in billing.invoices_of(sub)]
    assert totals == [2000, 2000, 2000, 3000, 3000]
    assert list(billing.get(sub).phases) == []


def test_a_phase_can_move_to_another_plan(billing):
    billing.push(rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(
        customer,
        "basic_monthly",
        phases=[sp.SubscriptionPhase(start_period=1, plan="plans/pro_monthly")],
    )
    billing.advance(clock, "2026-06-01T00:00:00Z")
    assert [i.total.amount_minor for i in billing.invoices_of(sub)] == [3000, 5000, 5000]
    assert billing.get(sub).plan == "plans/pro_monthly"


def test_a_plan_change_drops_per_unit_prices_the_new_plan_lacks(billing):
    billing.push(rules(granularity="day"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customer(clock)
    sub = billing.subscribe(customer, "team_monthly", quantities={"prices/team_seat_usd": 3})
    changed = billing.change(sub, plan="basic_monthly", at="2026-04-16T00:00:00Z")
    assert [(i.price, i.quantity) for i in changed.subscription.items] == [("", 1)]
    assert amounts(changed.lines) == [-1200, 1500]  # 3 seats x 8.00 x 15/30 back, Basic 15/30


@pytest.mark.parametrize(("outcome", "status"), [("cancel", sp.CANCELED), ("pause", sp.PAUSED)])
def test_trial_end_outcome_is_a_rule(billing, outcome, status):
    files = rules()
    files["invoicing.yaml"] = (
        f"kind: invoicing\ntrial_end_without_payment_method: {outcome}\n".encode()
    )
    billing.push(files)
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly", trial_days=14)
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert billing.get(sub).status == status
    assert billing.invoices_of(sub) == []


def test_renewals_follow_list_price_versions_but_keep_negotiated_prices(billing):
    files = rules()
    files["catalog.yaml"] = files["catalog.yaml"].replace(
        b"    prices: [{currency: USD, amount: 30.00}]",
        b"    prices:\n      - {currency: USD, amount: 30.00}\n"
        b"      - {currency: USD, amount: 35.00, effective_from: '2026-06-01T00:00:00Z'}",
    )
    billing.push(files)
    clock = billing.clock("2026-04-01T00:00:00Z")
    listed = billing.subscribe(billing.customer(clock), "basic_monthly")
    negotiated = billing.subscribe(
        billing.customer(clock), "basic_monthly", price_overrides={"": "25.00"}
    )
    billing.advance(clock, "2026-07-01T00:00:00Z")
    assert [i.total.amount_minor for i in billing.invoices_of(listed)] == [3000, 3000, 3500, 3500]
    assert [i.total.amount_minor for i in billing.invoices_of(negotiated)] == [2500] * 4
