"""Usage that must never be lost, over a real channel on SQLite and PostgreSQL: the closed
period's usage after an end-of-period plan change, gauge levels carried across periods, and
the `latest_ever` aggregation. Amounts are worked out by hand in each test."""

from __future__ import annotations

import uuid

import pytest

from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import usage_pb2 as up
from billing_client.v1 import usage_pb2_grpc
from billing_fixtures import Billing, iso, rules, ts

METRICS = """
  - {code: api_calls, aggregation: count}
  - {code: storage_gb, aggregation: time_weighted_sum, field: gb}
  - {code: regional_gb, aggregation: time_weighted_sum, field: gb, group_by: [region]}"""
SEATS = """
  - {code: seats, aggregation: latest_ever, field: n}"""
PRICING = """kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - {code: api_calls_usd, name: API calls, unit: calls, model: per_unit, metric: api_calls, currency: USD, unit_amount: 0.10}
  - {code: storage_usd, name: Storage, unit: GB-month, model: per_unit, metric: storage_gb, currency: USD, unit_amount: 0.10}
  - {code: regional_usd, name: Regional storage, unit: GB-month, model: per_unit, metric: regional_gb, currency: USD, unit_amount: 0.10}
"""
SEAT_PRICE = """  - {code: seats_usd, name: Seats, unit: seats, model: per_unit, metric: seats, currency: USD, unit_amount: 5.00}
"""
# Product pro, so a change to basic_monthly waits for the period end (downgrade rule).
PLAN = """
  - code: metered_monthly
    name: Metered
    product: pro
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: api_calls_usd}
      - {currency: USD, price: storage_usd}
      - {currency: USD, price: regional_usd}
plan_changes:"""
SEAT_PLAN_PRICE = "      - {currency: USD, price: seats_usd}\nplan_changes:"


def usage_rules(*, grace_hours: int = 0, lateness_hours: int = 240, seats: bool = False):  # type: ignore[no-untyped-def]
    files = rules(downgrade_at_period_end=True)
    catalog = files["catalog.yaml"].decode().replace("plan_changes:", PLAN, 1)
    pricing = PRICING
    metrics = METRICS
    if seats:
        catalog = catalog.replace("plan_changes:", SEAT_PLAN_PRICE, 1)
        pricing += SEAT_PRICE
        metrics += SEATS
    files["catalog.yaml"] = catalog.encode()
    files["pricing.yaml"] = pricing.encode()
    files["metering.yaml"] = (
        f"kind: metering\nmax_lateness_hours: {lateness_hours}\n"
        f"draft_grace_hours: {grace_hours}\nmetrics:{metrics}\n"
    ).encode()
    return files


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def usage(channel) -> usage_pb2_grpc.UsageServiceStub:
    return usage_pb2_grpc.UsageServiceStub(channel)


def event(sub, metric: str, at: str, event_id: str = "", **props: str) -> up.UsageEvent:  # type: ignore[no-untyped-def]
    return up.UsageEvent(
        id=event_id or uuid.uuid4().hex,
        subscription=sub.name,
        metric=metric,
        timestamp=ts(at),
        properties=props,
    )


def ingest(usage, billing, *events) -> None:  # type: ignore[no-untyped-def]
    answer = usage.IngestUsage(up.IngestUsageRequest(events=events), metadata=billing.metadata)
    assert answer.accepted == len(events), answer


def priced(invoice, price: str) -> list[tuple[str, int]]:  # type: ignore[no-untyped-def]
    """(quantity, amount) of the invoice's lines of one price."""
    return [
        (line.quantity, line.amount.amount_minor)
        for line in invoice.lines
        if line.price == f"prices/{price}"
    ]


# --- an end-of-period plan change ----------------------------------------------------------


@pytest.mark.parametrize("grace_hours", [0, 24], ids=["at_once", "after_grace"])
def test_usage_of_the_period_before_an_end_of_period_change_is_billed(billing, usage, grace_hours):
    billing.push(usage_rules(grace_hours=grace_hours))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(usage, billing, *(event(sub, "api_calls", "2026-04-10T00:00:00Z") for _ in range(40)))
    changed = billing.change(sub, plan="basic_monthly", at="2026-04-15T00:00:00Z")
    assert changed.subscription.pending_change.plan == "plans/basic_monthly"

    billing.advance(clock, "2026-05-03T00:00:00Z")
    assert billing.get(sub).plan == "plans/basic_monthly"
    invoices = billing.invoices_of(sub)
    assert [i.total.amount_minor for i in invoices] == [3000, 3400]
    may = invoices[1]
    assert iso(may.period_start) == "2026-05-01T00:00:00Z"
    # April ran on Metered: its 40 calls at 0.10 are 4.00, billed in arrears with May's
    # Basic fee (30.00): 34.00. Nothing was stored, so storage is 0 GB-months.
    assert priced(may, "api_calls_usd") == [("40", 400)]
    assert priced(may, "storage_usd") == [("0", 0)]
    assert may.lines[0].amount.amount_minor == 3000  # Basic, May


def test_a_late_correction_of_the_old_plans_usage_is_adjusted_after_the_change(billing, usage):
    # Lateness of 31 days, so April (billed on 1 May) is re-rated on 1 June, when May closes.
    billing.push(usage_rules(lateness_hours=744))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(usage, billing, event(sub, "api_calls", "2026-04-10T00:00:00Z", "call-1"))
    ingest(usage, billing, event(sub, "api_calls", "2026-04-09T23:00:00Z", "call-2"))
    billing.change(billing.get(sub), plan="basic_monthly", at="2026-04-15T00:00:00Z")
    billing.advance(clock, "2026-05-05T00:00:00Z")
    assert priced(billing.invoices_of(sub)[1], "api_calls_usd") == [("2", 20)]
    usage.VoidEvent(
        up.VoidEventRequest(event_id="call-2", request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    billing.advance(clock, "2026-06-02T00:00:00Z")
    june = billing.invoices_of(sub)[2]
    # April is now 1 call (0.10) where 2 (0.20) were billed: -0.10, under the Metered price
    # although the subscription is on Basic since 1 May. June's Basic fee: 30.00.
    [adjustment] = [line for line in june.lines if line.description.startswith("Adjustment")]
    assert adjustment.amount.amount_minor == -10
    assert "2026-04-01 to 2026-05-01" in adjustment.description
    assert june.total.amount_minor == 2990


# --- gauges carry their level ----------------------------------------------------------------


def test_a_stored_level_carries_into_the_following_periods(billing, usage):
    billing.push(usage_rules())
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-21T00:00:00Z")
    ingest(
        usage,
        billing,
        event(sub, "storage_gb", "2026-04-16T00:00:00Z", "gb-10", gb="10"),
        event(sub, "storage_gb", "2026-04-20T00:00:00Z", "gb-50", gb="50"),
        event(sub, "regional_gb", "2026-04-16T00:00:00Z", region="eu", gb="10"),
    )
    # The 50 GB was a mistake: voided, so 10 GB holds from 16 April on.
    usage.VoidEvent(
        up.VoidEventRequest(event_id="gb-50", request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    billing.advance(clock, "2026-05-02T00:00:00Z")
    may = billing.invoices_of(sub)[1]
    # April: 0 GB for 15 of 30 days, 10 GB for 15: 5 GB-months at 0.10 = 0.50.
    assert priced(may, "storage_usd") == [("5", 50)]
    assert priced(may, "regional_usd") == [("5", 50)]

    # In May nothing is reported for storage; us storage starts at 4 GB on 1 May.
    ingest(usage, billing, event(sub, "regional_gb", "2026-05-01T00:00:00Z", region="us", gb="4"))
    billing.advance(clock, "2026-05-10T00:00:00Z")
    # The 10 GB was really 12: from 16 April on, so May carries 12.
    usage.AmendEvent(
        up.AmendEventRequest(event_id="gb-10", properties={"gb": "12"}, request_id="fix-1"),
        metadata=billing.metadata,
    )
    # So far in May (the level held to the period end): 12 GB-months = 1.20; eu 10 = 1.00
    # (carried, no event in May), us 4 = 0.40.
    current = usage.GetCurrentUsage(
        up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert [(m.metric, m.group, m.quantity, m.amount.amount_minor) for m in current.metrics] == [
        ("api_calls", "", "0", 0),
        ("storage_gb", "", "12", 120),
        ("regional_gb", "region=eu", "10", 100),
        ("regional_gb", "region=us", "4", 40),
    ]
    upcoming = billing.invoices.PreviewUpcomingInvoice(
        ip.PreviewUpcomingInvoiceRequest(subscription=sub.name), metadata=billing.metadata
    )
    assert priced(upcoming, "storage_usd") == [("12", 120)]
    assert priced(upcoming, "regional_usd") == [("10", 100), ("4", 40)]

    billing.advance(clock, "2026-06-02T00:00:00Z")
    june = billing.invoices_of(sub)[2]
    # May at 12 GB: 1.20; then April re-rated (it ended within the 10 days of lateness before
    # May began): 12 GB from 16 April is 6 GB-months, 0.60 where 0.50 was billed: 1 more
    # GB-month, +0.10.
    assert priced(june, "storage_usd") == [("12", 120), ("1", 10)]
    assert priced(june, "regional_usd") == [("10", 100), ("4", 40)]
    assert june.total.amount_minor == 3000 + 120 + 10 + 100 + 40


def test_latest_ever_bills_the_last_reported_value_in_periods_without_events(billing, usage):
    billing.push(usage_rules(seats=True))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    billing.advance(clock, "2026-04-10T00:00:00Z")
    ingest(
        usage,
        billing,
        event(sub, "seats", "2026-04-09T00:00:00Z", n="2"),
        event(sub, "seats", "2026-04-10T00:00:00Z", n="3"),
    )
    billing.advance(clock, "2026-06-20T00:00:00Z")
    ingest(usage, billing, event(sub, "seats", "2026-06-20T00:00:00Z", n="5"))
    billing.advance(clock, "2026-07-01T00:00:00Z")
    # April: the last value, 3 seats at 5.00 = 15.00; May, no events: still 3, 15.00; June:
    # 5 reported on the 20th, the last value: 25.00.
    seats = [priced(i, "seats_usd") for i in billing.invoices_of(sub)[1:]]
    assert seats == [[("3", 1500)], [("3", 1500)], [("5", 2500)]]
