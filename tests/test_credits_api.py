"""Proration and cancellation credits follow what was actually paid, over a real channel on
SQLite and PostgreSQL: a price never billed is never credited, credits stop at what the
period still holds (a repair line shows the cut, account credit the excess), coupons reduce
credits by the rule's convention, and every line says what it is."""

from __future__ import annotations

import uuid

import pytest

from billing_client.v1 import coupons_pb2 as cp
from billing_client.v1 import coupons_pb2_grpc, money_pb2
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing, amounts, rules


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def kinds(lines) -> list[int]:  # type: ignore[no-untyped-def]
    return [line.kind for line in lines]


def line_kinds(lines) -> list[int]:  # type: ignore[no-untyped-def]
    return [line.line_kind for line in lines]


def with_seats_plan(files: dict[str, bytes], discount_credit: str = "") -> dict[str, bytes]:
    """Adds `seats_plus`: a 20.00 flat fee plus seats at 8.00."""
    plan = """  - code: seats_plus
    name: Team plus
    product: team
    interval: month
    prices: [{currency: USD, amount: 20.00}, {currency: USD, price: team_seat_usd}]
plan_changes:"""
    files["catalog.yaml"] = files["catalog.yaml"].replace(b"plan_changes:", plan.encode(), 1)
    if discount_credit:
        files["proration.yaml"] += f"    discount_credit: {discount_credit}\n".encode()
    return files


def test_a_change_without_proration_leaves_the_credit_at_what_was_paid(billing):
    billing.push(rules(granularity="day", behavior="none"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")  # 30.00 paid for April
    upgraded = billing.change(sub, plan="pro_monthly", at="2026-04-11T00:00:00Z")
    assert list(upgraded.lines) == []  # behavior none: Pro is not billed for April
    billing.push(rules(granularity="day", behavior="always_invoice"))
    changed = billing.change(upgraded.subscription, plan="basic_monthly", at="2026-04-21T00:00:00Z")
    # April was paid at Basic's 30.00, never at Pro's 50.00: 10 of 30 days are unused,
    # credit 30.00 x 10/30 = 10.00 (not 50.00 x 10/30 = 16.67); Basic for the 10 days left
    # costs 30.00 x 10/30 = 10.00.
    assert amounts(changed.lines) == [-1000, 1000]
    assert kinds(changed.lines) == [ip.PRORATION_CREDIT, ip.PRORATION_CHARGE]
    assert changed.lines[0].description == "Unused time on Pro x 1 (10/30 days)"
    invoice = billing.invoices_of(sub)[-1]
    assert invoice.total.amount_minor == 0


def test_a_cancellation_credit_stops_at_what_credit_notes_left(billing):
    billing.push(rules(granularity="day"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "pro_monthly")
    [first] = billing.invoices_of(sub)  # 50.00 for April
    billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=first.name,
            amount=money_pb2.Money(currency_code="USD", amount_minor=4000),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    billing.advance(clock, "2026-04-16T00:00:00Z")
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=sub.name, immediately=True, request_id="c"),
        metadata=billing.metadata,
    )
    final = billing.invoices_of(sub)[-1]
    # Unused: 15 of 30 days of 50.00 = 25.00. But 40.00 of April's 50.00 went back by credit
    # note, so only 10.00 is still creditable: a repair takes back 25.00 - 10.00 = 15.00, and
    # the -10.00 left moves to account credit (+10.00), the invoice totalling 0.00.
    assert amounts(final.lines) == [-2500, 1500, 1000]
    assert line_kinds(final.lines) == [ip.CANCELLATION_CREDIT, ip.REPAIR, ip.ACCOUNT_CREDIT]
    assert [line.kind for line in final.lines] == [
        "cancellation_credit",
        "repair",
        "account_credit",
    ]
    assert (final.total.amount_minor, final.amount_due.amount_minor) == (0, 0)
    explained = billing.invoices.ExplainInvoice(
        ip.ExplainInvoiceRequest(name=final.name), metadata=billing.metadata
    )
    assert [line.kind for line in explained.lines] == [
        ip.CANCELLATION_CREDIT,
        ip.REPAIR,
        ip.ACCOUNT_CREDIT,
    ]


@pytest.mark.parametrize(
    ("convention", "credit"),
    [
        # Paid: fee 20.00 + seats 80.00 - 20% coupon (20.00) = 80.00. Spread pro rata, the
        # seats carried 20.00 x 80/100 = 16.00 of the coupon and paid 64.00; half the month
        # is left (15/30 days): credit 32.00.
        ("spread", -3200),
        # Kept whole on the remaining fee (20.00 holds all 20.00 of it), the seats paid their
        # full 80.00: credit 80.00 x 15/30 = 40.00.
        ("keep_on_remaining", -4000),
    ],
)
def test_removing_seats_credits_what_they_paid_after_the_coupon(
    billing, channel, convention, credit
):
    billing.push(with_seats_plan(rules(granularity="day", behavior="always_invoice"), convention))
    coupons_pb2_grpc.CouponServiceStub(channel).CreateCoupon(
        cp.CreateCouponRequest(
            coupon=cp.Coupon(name="coupons/TWENTY", percent_off="20", duration=cp.FOREVER),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(
        billing.customer(clock),
        "seats_plus",
        quantities={"prices/team_seat_usd": 10},
        coupon="coupons/TWENTY",
    )
    [first] = billing.invoices_of(sub)
    assert amounts(first.lines) == [2000, 8000, -2000]
    assert line_kinds(first.lines) == [ip.RECURRING, ip.RECURRING, ip.DISCOUNT]
    changed = billing.change(sub, quantities={"prices/team_seat_usd": 0}, at="2026-04-16T00:00:00Z")
    # Seats set to 0: a credit, and no 0.00 charge line for "Seat x 0".
    assert amounts(changed.lines) == [credit]
    assert [(line.description, line.quantity, line.kind) for line in changed.lines] == [
        ("Unused time on Seat x 10 (15/30 days)", 10, ip.PRORATION_CREDIT)
    ]
    update = billing.invoices_of(sub)[-1]
    assert amounts(update.lines) == [credit, -credit]  # the excess to account credit
    assert (update.total.amount_minor, update.amount_due.amount_minor) == (0, 0)
