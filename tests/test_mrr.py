"""MRR, its movements and churn (issue 17, ADR 0055): a hand-computed month of ten
subscriptions through the real API on both databases, and the pure rules."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from billing.domain.mrr import Movement, churn_rate, movement
from billing_client.v1 import metrics_pb2 as mp
from billing_client.v1 import metrics_pb2_grpc
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, rules, ts
from conftest import Tenant


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


def cancel_now(billing: Billing, sub: sp.Subscription) -> None:
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, immediately=True, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )


def test_a_month_of_ten_subscriptions_matches_the_hand_computed_movements(
    billing: Billing, channel, tenant: Tenant
) -> None:
    billing.push(rules(behavior="always_invoice"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    c = [billing.customer(clock) for _ in range(10)]
    s1 = billing.subscribe(c[1], "basic_monthly")  # 30.00
    s2 = billing.subscribe(c[2], "pro_monthly")  # 50.00
    s3 = billing.subscribe(c[3], "team_monthly", quantities={"prices/team_seat_usd": 5})  # 40.00
    billing.subscribe(c[4], "basic_yearly")  # 300.00 a year: 25.00
    s5 = billing.subscribe(c[5], "pro_monthly")  # 50.00
    billing.subscribe(c[6], "basic_monthly")  # 30.00
    s10 = billing.subscribe(c[0], "basic_monthly")  # 30.00, gone in April
    billing.advance(clock, "2026-04-20T00:00:00Z")
    cancel_now(billing, s10)
    billing.advance(clock, "2026-05-10T09:00:00Z")  # May's renewals change nothing

    billing.change(billing.get(s1), plan="pro_monthly")  # expansion +20.00
    billing.change(billing.get(s2), plan="basic_monthly")  # contraction -20.00
    billing.change(billing.get(s3), quantities={"prices/team_seat_usd": 8})  # expansion +24.00
    cancel_now(billing, s5)  # churn -50.00
    billing.subscribe(c[7], "pro_monthly")  # new +50.00
    billing.subscribe(c[6], "pro_monthly")  # a second one: expansion +50.00
    billing.subscribe(c[0], "basic_monthly")  # back: reactivation +30.00

    metrics = metrics_pb2_grpc.MetricsServiceStub(channel)
    md = tenant.metadata
    may = {"start_time": ts("2026-05-01T00:00:00Z"), "end_time": ts("2026-06-01T00:00:00Z")}
    moves = metrics.GetMrrMovements(mp.GetMrrMovementsRequest(**may), metadata=md)
    assert [(r.kind, r.amount.amount_minor, r.count) for r in moves.rows] == [
        ("new", 5000, 1),
        ("expansion", 9400, 3),
        ("contraction", -2000, 1),
        ("churn", -5000, 1),
        ("reactivation", 3000, 1),
    ]
    [now] = metrics.GetMrr(mp.GetMrrRequest(), metadata=md).rows
    assert (now.mrr.amount_minor, now.arr.amount_minor) == (32900, 394800)

    # MRR at an instant counts the movements strictly before it: 7 new in April (30 + 50 + 40
    # + 25 + 50 + 30 + 30 = 255.00), c0 gone on the 20th (-30.00 = 225.00), May's seven
    # movements on the 10th at 09:00 (+50 + 94 - 20 - 50 + 30 = +104.00 = 329.00). Instants
    # at midnight read whole days; 08:59:59 reads its day's movements after it too.
    def mrr_at(at: str) -> int:
        [row] = metrics.GetMrr(mp.GetMrrRequest(as_of_time=ts(at)), metadata=md).rows
        assert row.arr.amount_minor == 12 * row.mrr.amount_minor
        return row.mrr.amount_minor

    assert [mrr_at(at) for at in (
        "2020-01-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-04-01T00:00:01Z",
        "2026-04-20T00:00:00Z", "2026-04-20T00:00:01Z", "2026-05-01T00:00:00Z",
        "2026-05-10T00:00:00Z", "2026-05-10T08:59:59Z", "2026-05-10T09:00:00Z",
        "2026-05-10T09:00:01Z", "2026-05-11T00:00:00Z", "2031-01-01T00:00:00Z",
    )] == [0, 0, 25500, 25500, 22500, 22500, 22500, 22500, 22500, 32900, 32900, 32900]  # fmt: skip
    april = {"start_time": ts("2026-04-01T00:00:00Z"), "end_time": may["start_time"]}
    moves = metrics.GetMrrMovements(mp.GetMrrMovementsRequest(**april), metadata=md)
    assert [(r.kind, r.amount.amount_minor, r.count) for r in moves.rows] == [
        ("new", 25500, 7),
        ("churn", -3000, 1),
    ]

    [churn] = metrics.GetChurn(mp.GetChurnRequest(**may), metadata=md).rows
    assert (churn.customers_at_start, churn.customers_churned, churn.logo_churn) == (
        6,
        1,
        "0.166667",
    )
    assert (churn.mrr_at_start.amount_minor, churn.mrr_lost.amount_minor) == (22500, 7000)
    assert churn.revenue_churn == "0.311111"

    # Customers with MRR at an instant (churn's base), read as MRR at an instant is: the
    # current count less the days after it and its own day's movements after it (0032).
    # 7 from April 1st, c0 gone on the 20th (6), then on May 10th at 09:00 c5 churns, c7 is
    # new and c0 is back (7).
    def customers_at(at: str) -> int:
        start = ts(at)
        end = ts("2032-01-01T00:00:00Z")
        reply = metrics.GetChurn(mp.GetChurnRequest(start_time=start, end_time=end), metadata=md)
        return sum(row.customers_at_start for row in reply.rows)

    assert [customers_at(at) for at in (
        "2020-01-01T00:00:00Z", "2026-04-01T00:00:00Z", "2026-04-01T00:00:01Z",
        "2026-04-20T00:00:00Z", "2026-04-20T00:00:01Z", "2026-05-10T08:59:59Z",
        "2026-05-10T09:00:00Z", "2026-05-10T09:00:01Z", "2026-05-11T00:00:00Z",
        "2031-01-01T00:00:00Z",
    )] == [0, 0, 7, 7, 6, 6, 6, 7, 7, 7]  # fmt: skip


def test_movements_are_classified_per_customer() -> None:
    assert movement(0, 100, ever_had_mrr=False) is Movement.NEW
    assert movement(0, 100, ever_had_mrr=True) is Movement.REACTIVATION
    assert movement(100, 0, ever_had_mrr=True) is Movement.CHURN
    assert movement(100, 150, ever_had_mrr=True) is Movement.EXPANSION
    assert movement(150, 100, ever_had_mrr=True) is Movement.CONTRACTION
    assert movement(100, 100, ever_had_mrr=True) is None
    assert churn_rate(1, 3) == Decimal("0.333333") and churn_rate(1, 0) == 0
