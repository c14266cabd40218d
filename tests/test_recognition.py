"""Revenue recognition (ADR 0054): the issue's worked examples through the real API on both
databases, months simulated with a test clock, and the pure arithmetic behind them."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing.domain.recognition import (
    LineFacts,
    Method,
    Obligation,
    RecognitionRules,
    allocate,
    earned_through,
    next_boundary,
    plan_schedules,
)
from billing.domain.subscriptions import LineKind
from billing_client.v1 import coupons_pb2, coupons_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import Server, Tenant
from payments_fixtures import Payments, payment_rules, table

UTC_ZONE = ZoneInfo("UTC")

ANNUAL = b"""\
kind: catalog
products:
  - {code: annual, name: Annual}
  - {code: suite, name: Suite}
plans:
  - code: annual_365
    name: Annual
    product: annual
    interval: year
    prices: [{currency: USD, amount: 365.00}]
  - code: suite_monthly
    name: Suite
    product: suite
    interval: month
    prices: [{currency: USD, amount: 100.00}, {currency: USD, price: support_usd}]
"""
SUPPORT = b"""\
kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - {code: support_usd, name: Support, model: per_unit, currency: USD, unit_amount: 50.00}
"""
RECOGNITION = b"""\
kind: recognition
obligations:
  - {plan: suite_monthly, method: ratable, ssp: {USD: 120.00}}
  - {price: support_usd, method: point_in_time, ssp: {USD: 30.00}}
"""


@pytest.fixture
def billing(channel, tenant) -> Billing:  # type: ignore[no-untyped-def]
    return Billing(channel, tenant.metadata)


def revenue_by_period(
    server: Server, tenant: Tenant, source: str | None = None
) -> dict[str, dict[str, int]]:
    """period -> revenue account -> credit balance (positive: earned)."""
    entries = {row["id"]: row for row in table(server, "journal_entries", tenant.id)}
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in table(server, "journal_lines", tenant.id):
        entry = entries[line["entry_id"]]
        if line["account"].startswith("revenue:") and (source is None or entry["source"] == source):
            out[entry["period"]][line["account"]] += int(line["credit_minor"]) - int(
                line["debit_minor"]
            )
    return {period: dict(accounts) for period, accounts in sorted(out.items())}


def deferred_of(server: Server, tenant: Tenant, source: str) -> int:
    entries = {row["id"]: row for row in table(server, "journal_entries", tenant.id)}
    return sum(
        int(line["credit_minor"]) - int(line["debit_minor"])
        for line in table(server, "journal_lines", tenant.id)
        if line["account"] == "deferred_revenue" and entries[line["entry_id"]]["source"] == source
    )


# --- the examples, through the API ----------------------------------------------------


def test_a_year_of_365_00_paid_upfront_earns_1_00_a_day(
    billing: Billing, channel, server: Server, tenant: Tenant
) -> None:
    billing.push({**payment_rules(), "annual.yaml": ANNUAL, "pricing.yaml": SUPPORT})
    clock = billing.clock("2026-01-01T00:00:00Z")
    buyer = billing.customer(clock)
    sub = billing.subscribe(buyer, "annual_365")
    [invoice] = billing.invoices_of(sub)
    assert invoice.total.amount_minor == 36500
    Payments(channel, billing).record(buyer, 36500, [(invoice, 36500)])

    billing.advance(clock, "2026-12-31T12:00:00Z")
    earned = revenue_by_period(server, tenant, invoice.name)
    days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30]
    assert earned == {
        f"2026-{m:02d}": {"revenue:annual": d * 100} for m, d in enumerate(days, start=1)
    }
    assert deferred_of(server, tenant, invoice.name) == 3100  # December is still to earn

    billing.advance(clock, "2027-01-01T00:00:00Z")
    earned = revenue_by_period(server, tenant, invoice.name)
    assert earned["2026-12"] == {"revenue:annual": 3100}
    assert sum(p["revenue:annual"] for p in earned.values()) == 36500
    assert deferred_of(server, tenant, invoice.name) == 0


MONTHLY_STRAIGHT_LINE = b"""\
kind: recognition
obligations:
  - {plan: annual_365, method: ratable_monthly}
"""


def test_a_plugins_method_earns_the_year_in_equal_months(
    billing: Billing, channel, server: Server, tenant: Tenant
) -> None:
    """`ratable_monthly` (plugins/billing_builtin): asked once at finalize, its entries written
    on the schedule; 365.00 as twelve equal months, the cents left over to the first ones."""
    billing.push({**payment_rules(), "annual.yaml": ANNUAL, "pricing.yaml": SUPPORT,
                  "recognition.yaml": MONTHLY_STRAIGHT_LINE})  # fmt: skip
    clock = billing.clock("2026-01-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "annual_365")
    [invoice] = billing.invoices_of(sub)
    [schedule] = table(server, "revenue_schedules", tenant.id)
    assert schedule["method"] == "ratable_monthly"
    entries = json.loads(schedule["allocation"])["entries"]
    assert entries[:2] == [["2026-01-31", 3042], ["2026-02-28", 3042]]
    assert entries[-1] == ["2026-12-31", 3041] and sum(a for _, a in entries) == 36500

    billing.advance(clock, "2027-01-01T00:00:00Z")
    earned = revenue_by_period(server, tenant, invoice.name)
    assert [p["revenue:annual"] for p in earned.values()] == [3042] * 8 + [3041] * 4
    assert list(earned) == [f"2026-{m:02d}" for m in range(1, 13)]
    assert deferred_of(server, tenant, invoice.name) == 0


def test_an_upgrade_mid_month_earns_what_the_prorated_lines_bill(
    billing: Billing, server: Server, tenant: Tenant
) -> None:
    billing.push(rules(behavior="always_invoice"))
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "basic_monthly")
    billing.advance(clock, "2026-04-16T00:00:00Z")
    billing.change(billing.get(sub), plan="pro_monthly")
    first, change = billing.invoices_of(sub)[:2]
    assert [line.amount.amount_minor for line in change.lines] == [-1500, 2500]

    billing.advance(clock, "2026-05-01T00:00:00Z")
    april = revenue_by_period(server, tenant)["2026-04"]
    # Basic: 30.00 billed, 15.00 of it credited back for the 15 days after the upgrade;
    # Pro: 25.00 for those 15 days. Exactly the invoices' lines.
    assert april == {"revenue:basic": 1500, "revenue:pro": 2500}
    assert sum(april.values()) == first.total.amount_minor + change.total.amount_minor
    assert deferred_of(server, tenant, first.name) == deferred_of(server, tenant, change.name) == 0


def test_a_discounted_bundle_is_allocated_by_ssp(
    billing: Billing, channel, server: Server, tenant: Tenant
) -> None:
    billing.push(
        {**payment_rules(), "annual.yaml": ANNUAL, "pricing.yaml": SUPPORT,
         "recognition.yaml": RECOGNITION}
    )  # fmt: skip
    coupons_pb2_grpc.CouponServiceStub(channel).CreateCoupon(
        coupons_pb2.CreateCouponRequest(
            coupon=coupons_pb2.Coupon(
                name="coupons/TWENTY", percent_off="20", duration=coupons_pb2.FOREVER
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "suite_monthly", coupon="coupons/TWENTY")
    [invoice] = billing.invoices_of(sub)
    assert [line.amount.amount_minor for line in invoice.lines] == [10000, 5000, -3000]

    schedules = sorted(
        (row for row in table(server, "revenue_schedules", tenant.id)),
        key=lambda row: row["line_no"],
    )
    # 120.00 of net price over SSPs 120 : 30 -> 96.00 and 24.00, exactly 120.00.
    assert [(r["method"], int(r["amount_minor"])) for r in schedules] == [
        ("ratable", 9600),
        ("point_in_time", 2400),
    ]
    allocation = json.loads(schedules[0]["allocation"])
    assert (
        allocation["list_minor"],
        allocation["allocated_minor"],
        allocation["discount_minor"],
    ) == (
        10000,
        9600,
        -3000,
    )
    # Support is earned at once; the suite over April.
    assert revenue_by_period(server, tenant) == {"2026-04": {"revenue:suite": 2400}}
    billing.advance(clock, "2026-05-01T00:00:00Z")
    assert revenue_by_period(server, tenant, invoice.name)["2026-04"] == {"revenue:suite": 12000}


def test_a_void_takes_back_what_was_recognized(
    billing: Billing, server: Server, tenant: Tenant
) -> None:
    billing.push({**payment_rules(), "annual.yaml": ANNUAL, "pricing.yaml": SUPPORT})
    clock = billing.clock("2026-01-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "annual_365")
    [invoice] = billing.invoices_of(sub)
    billing.advance(clock, "2026-03-01T00:00:00Z")
    from billing_client.v1 import invoices_pb2 as ip

    billing.invoices.VoidInvoice(
        ip.VoidInvoiceRequest(name=invoice.name, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    earned = revenue_by_period(server, tenant, invoice.name)
    assert sum(sum(p.values()) for p in earned.values()) == 0  # 59.00 earned, taken back
    assert deferred_of(server, tenant, invoice.name) == 0
    assert {r["status"] for r in table(server, "revenue_schedules", tenant.id)} == {"void"}


# --- the arithmetic --------------------------------------------------------------------------

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_ratable_parts_are_exact_every_day_and_add_up() -> None:
    end = START + timedelta(days=365)
    earned = [earned_through(Method.RATABLE, 36500, START, end, START + timedelta(days=k), UTC_ZONE)
              for k in range(366)]  # fmt: skip
    assert earned == [100 * k for k in range(366)]
    # 100.00 over 3 days: 33.33, 33.34, 33.33 by cumulative half-even; exact in total.
    three = [earned_through(Method.RATABLE, 10000, START, START + timedelta(days=3),
                            START + timedelta(days=k), UTC_ZONE) for k in range(4)]  # fmt: skip
    assert three == [0, 3333, 6667, 10000]
    assert earned_through(Method.POINT_IN_TIME, 500, START, end, START, UTC_ZONE) == 500


def test_boundaries_are_month_ends_and_the_last_day_in_the_sellers_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    start = datetime(2026, 1, 15, 8, tzinfo=UTC)
    end = datetime(2026, 2, 15, 8, tzinfo=UTC)
    assert next_boundary(start, end, start, paris) == datetime(2026, 1, 31, 23, tzinfo=UTC)
    assert next_boundary(start, end, datetime(2026, 1, 31, 23, tzinfo=UTC), paris) == datetime(
        2026, 2, 14, 23, tzinfo=UTC
    )
    assert next_boundary(start, end, datetime(2026, 2, 14, 23, tzinfo=UTC), paris) is None


def test_allocation_by_ssp_adds_up_exactly() -> None:
    assert allocate(10000, [Decimal(1), Decimal(1), Decimal(1)]) == [3334, 3333, 3333]
    assert allocate(12000, [Decimal(120), Decimal(30)]) == [9600, 2400]
    line = LineFacts(0, LineKind.RECURRING, 10000, None, "suite", "suite", Decimal(1),
                     Decimal(100), START, START + timedelta(days=30))  # fmt: skip
    support = LineFacts(1, LineKind.RECURRING, 5000, "support", "suite", "suite", Decimal(1),
                        Decimal(50), START, START + timedelta(days=30))  # fmt: skip
    coupon = LineFacts(2, LineKind.DISCOUNT, -3001, None, "suite", "suite", Decimal(1),
                       Decimal("-30.01"), START, START + timedelta(days=30))  # fmt: skip
    rules_ = RecognitionRules(
        by_price={"support": Obligation(Method.POINT_IN_TIME, {"USD": Decimal(30)})},
        by_plan={"suite": Obligation(Method.RATABLE, {"USD": Decimal(120)})},
    )
    schedules = plan_schedules([line, support, coupon], "USD", rules_, START)
    assert [(s.method, s.amount_minor) for s in schedules] == [
        (Method.RATABLE, 9599),
        (Method.POINT_IN_TIME, 2400),
    ]
    assert sum(s.amount_minor for s in schedules) == 10000 + 5000 - 3001
