"""Exactness and bounds over a real channel, on SQLite and PostgreSQL: one strict decimal
grammar on every path that reads a number from text, a bound on every amount and quantity
(a result outside int64 minor units is INVALID_ARGUMENT, never INTERNAL), fixed-amount coupons
only in their own currency, withdrawn currencies refused."""

from __future__ import annotations

import uuid

import grpc
import pytest

from billing.rules import RuleSetInvalid, load_rule_set_from_files
from billing.rules.errors import format_path
from billing_client.v1 import catalog_pb2 as cat
from billing_client.v1 import catalog_pb2_grpc, coupons_pb2_grpc, money_pb2, usage_pb2_grpc
from billing_client.v1 import coupons_pb2 as cp
from billing_client.v1 import customers_pb2 as cup
from billing_client.v1 import invoices_pb2 as ip
from billing_client.v1 import subscriptions_pb2 as sp
from billing_client.v1 import usage_pb2 as up
from billing_fixtures import Billing, rules, ts
from conftest import REPO_RULES
from grpc_helpers import error_info, field_violations

# Every one of these is refused wherever a decimal is read from text: an exponent, a digit
# separator, surrounding blanks, an explicit plus, a bare point on either side, not-a-number,
# infinities, and a digit outside ASCII (Python's Decimal reads Arabic-Indic five as 5).
NOT_PLAIN = ["1e3", "1_000", " 5 ", "+5", ".5", "5.", "NaN", "Infinity", "-Infinity", "\u0665"]

# int64 minor units: 9,223,372,036,854,775,807 = 92,233,720,368,547,758.07 USD.
BIG_PRICE = b"""kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - {code: big_usd, name: Big, model: per_unit, currency: USD, unit_amount: 100000000.00}
"""
METERING = b"""kind: metering
max_lateness_hours: 240
metrics:
  - {code: data_gb, aggregation: sum, field: gb}
"""
METERED = """  - code: metered_monthly
    name: Metered
    product: pro
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: data_usd}
plan_changes:"""


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def billing(channel, tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    files = rules()
    files["pricing.yaml"] = BIG_PRICE + (
        b"  - {code: data_usd, name: Data, unit: GB, model: per_unit, metric: data_gb,"
        b" currency: USD, unit_amount: 2.00}\n"
    )
    files["metering.yaml"] = METERING
    files["catalog.yaml"] = (
        files["catalog.yaml"].decode().replace("plan_changes:", METERED, 1).encode()
    )
    b.push(files)
    return b


@pytest.fixture
def coupons(channel) -> coupons_pb2_grpc.CouponServiceStub:
    return coupons_pb2_grpc.CouponServiceStub(channel)


@pytest.fixture
def usage(channel) -> usage_pb2_grpc.UsageServiceStub:
    return usage_pb2_grpc.UsageServiceStub(channel)


@pytest.fixture
def catalog(channel) -> catalog_pb2_grpc.CatalogServiceStub:
    return catalog_pb2_grpc.CatalogServiceStub(channel)


def refused(call) -> grpc.RpcError:  # type: ignore[no-untyped-def]
    with pytest.raises(grpc.RpcError) as failure:
        call()
    return failure.value


def assert_invalid(error: grpc.RpcError, field: str) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)


def draft(billing: Billing) -> ip.Invoice:
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    return billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
        metadata=billing.metadata,
    )


def add_line(billing: Billing, invoice: ip.Invoice, quantity: str, unit: str) -> ip.Invoice:
    return billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=invoice.name,
            description="Work",
            quantity=quantity,
            unit_amount=unit,
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )


# --- one grammar ---------------------------------------------------------------------------


def test_add_invoice_line_refuses_numbers_that_are_not_plain(billing):
    invoice = draft(billing)
    for text in NOT_PLAIN:
        error = refused(lambda t=text: add_line(billing, invoice, "1", t))
        assert_invalid(error, "unit_amount")
        error = refused(lambda t=text: add_line(billing, invoice, t, "1.00"))
        assert_invalid(error, "quantity")
    # Still fine: a leading minus, no fraction, a fraction: -2 x 1.50 = -3.00.
    assert [
        line.amount.amount_minor for line in add_line(billing, invoice, "-2", "1.50").lines
    ] == [-300]


def test_preview_price_refuses_numbers_that_are_not_plain(billing, catalog):
    for text in NOT_PLAIN:
        error = refused(
            lambda t=text: catalog.PreviewPrice(
                cat.PreviewPriceRequest(price="prices/team_seat_usd", quantity=t),
                metadata=billing.metadata,
            )
        )
        assert_invalid(error, "quantity")


def test_create_coupon_refuses_percentages_that_are_not_plain(billing, coupons):
    for text in NOT_PLAIN:
        error = refused(
            lambda t=text: coupons.CreateCoupon(
                cp.CreateCouponRequest(
                    coupon=cp.Coupon(name=f"coupons/C{rid()[:8]}", percent_off=t, duration=cp.ONCE),
                    request_id=rid(),
                ),
                metadata=billing.metadata,
            )
        )
        assert_invalid(error, "coupon.percent_off")


def test_price_overrides_refuse_numbers_that_are_not_plain(billing):
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    for text in NOT_PLAIN:
        error = refused(
            lambda t=text: billing.subscribe(customer, "basic_monthly", price_overrides={"": t})
        )
        assert_invalid(error, 'price_overrides[""]')


def test_usage_values_that_are_not_plain_are_refused_at_ingestion_and_on_amend(billing, usage):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    events = [
        up.UsageEvent(
            id=f"e{i}",
            subscription=sub.name,
            metric="data_gb",
            timestamp=ts("2026-04-01T00:00:00Z"),
            properties={"gb": text},
        )
        for i, text in enumerate([*NOT_PLAIN, "2.5"])
    ]
    answer = usage.IngestUsage(up.IngestUsageRequest(events=events), metadata=billing.metadata)
    assert answer.accepted == 1
    refusals = {r.index: r.reason for r in answer.results if r.outcome == up.EventResult.REFUSED}
    assert sorted(refusals) == list(range(len(NOT_PLAIN)))
    assert all("'gb'" in reason for reason in refusals.values()), refusals
    for text in NOT_PLAIN:
        error = refused(
            lambda t=text: usage.AmendEvent(
                up.AmendEventRequest(
                    event_id=f"e{len(NOT_PLAIN)}", properties={"gb": t}, request_id=rid()
                ),
                metadata=billing.metadata,
            )
        )
        assert_invalid(error, "properties")


# --- bounds --------------------------------------------------------------------------------


def test_an_invoice_line_beyond_int64_minor_units_is_invalid_not_internal(billing):
    invoice = draft(billing)
    # 10^15 (the quantity bound) x 10^15.00 = 10^30 USD = 10^32 cents, far beyond
    # 9,223,372,036,854,775,807.
    error = refused(lambda: add_line(billing, invoice, "1000000000000000", "1000000000000000"))
    assert_invalid(error, "unit_amount")
    # A quantity above 10^15 is refused on its own, and so is a 30-digit one.
    assert_invalid(refused(lambda: add_line(billing, invoice, "1000000000000001", "1")), "quantity")
    assert_invalid(refused(lambda: add_line(billing, invoice, "1" + "0" * 30, "1")), "quantity")


def test_an_invoice_total_beyond_int64_is_invalid_not_internal(billing):
    invoice = draft(billing)
    # 50,000,000,000,000,000.00 USD = 5,000,000,000,000,000,000 cents: fits int64 alone.
    one = add_line(billing, invoice, "1", "50000000000000000.00")
    assert [line.amount.amount_minor for line in one.lines] == [5_000_000_000_000_000_000]
    # A second one makes the total 10^19 cents > 9,223,372,036,854,775,807.
    error = refused(lambda: add_line(billing, invoice, "1", "50000000000000000.00"))
    assert_invalid(error, "unit_amount")


def test_a_price_preview_beyond_int64_is_invalid_not_internal(billing, catalog):
    # 10^15 units x 100,000,000.00 USD = 10^23 USD = 10^25 cents.
    error = refused(
        lambda: catalog.PreviewPrice(
            cat.PreviewPriceRequest(price="prices/big_usd", quantity="1000000000000000"),
            metadata=billing.metadata,
        )
    )
    assert_invalid(error, "quantity")


def test_a_subscription_quantity_has_a_bound(billing):
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    # 10^15 + 1 seats: beyond the quantity bound (at 8.00 USD it would still fit int64, so the
    # bound, not the product, refuses it).
    error = refused(
        lambda: billing.subscribe(
            customer, "team_monthly", quantities={"prices/team_seat_usd": 10**15 + 1}
        )
    )
    assert_invalid(error, 'quantities["prices/team_seat_usd"]')
    # 2^62 seats x 8.00 USD would be 3.7 x 10^19 cents.
    error = refused(
        lambda: billing.subscribe(
            customer, "team_monthly", quantities={"prices/team_seat_usd": 2**62}
        )
    )
    assert_invalid(error, 'quantities["prices/team_seat_usd"]')


def test_usage_values_have_a_bound_and_an_overflowing_period_is_invalid_not_internal(
    billing, usage
):
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")

    def event(i: int, gb: str) -> up.UsageEvent:
        return up.UsageEvent(
            id=f"u{i}",
            subscription=sub.name,
            metric="data_gb",
            timestamp=ts("2026-04-01T00:00:00Z"),
            properties={"gb": gb},
        )

    too_big = usage.IngestUsage(
        up.IngestUsageRequest(events=[event(0, "1000000000000001")]), metadata=billing.metadata
    )
    assert too_big.accepted == 0
    assert "at most" in too_big.results[0].reason
    # 50 events of 10^15 GB at 2.00 USD = 10^17 USD = 10^19 cents for the period: more than
    # int64 holds, although each event is within its bound.
    events = [event(i, "1000000000000000") for i in range(1, 51)]
    answer = usage.IngestUsage(up.IngestUsageRequest(events=events), metadata=billing.metadata)
    assert answer.accepted == 50
    error = refused(
        lambda: usage.GetCurrentUsage(
            up.GetCurrentUsageRequest(subscription=sub.name), metadata=billing.metadata
        )
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error_info(error).reason == "AMOUNT_OUT_OF_RANGE"


# --- coupons in another currency -----------------------------------------------------------


def eur_coupon(billing: Billing, coupons) -> str:  # type: ignore[no-untyped-def]
    name = f"coupons/EUR{rid()[:8]}"
    coupons.CreateCoupon(
        cp.CreateCouponRequest(
            coupon=cp.Coupon(
                name=name,
                amount_off=money_pb2.Money(currency_code="EUR", amount_minor=500),
                duration=cp.FOREVER,
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    return name


def test_a_fixed_coupon_in_another_currency_is_refused_on_a_subscription(billing, coupons):
    coupon = eur_coupon(billing, coupons)
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))  # a USD customer
    error = refused(lambda: billing.subscribe(customer, "basic_monthly", coupon=coupon))
    assert_invalid(error, "coupon")
    assert "EUR" in field_violations(error)["coupon"]
    assert "USD" in field_violations(error)["coupon"]


def test_a_fixed_coupon_in_another_currency_is_refused_on_an_invoice(billing, coupons):
    coupon = eur_coupon(billing, coupons)
    invoice = draft(billing)
    error = refused(
        lambda: billing.invoices.ApplyCoupon(
            ip.ApplyCouponRequest(invoice=invoice.name, coupon=coupon, request_id=rid()),
            metadata=billing.metadata,
        )
    )
    assert_invalid(error, "coupon")


# --- withdrawn currencies ------------------------------------------------------------------


@pytest.mark.parametrize(("code", "left"), [("HRK", "2023-01-01"), ("LTL", "2015-01-01")])
def test_a_customer_in_a_withdrawn_currency_is_refused_with_the_date_it_left(billing, code, left):
    error = refused(
        lambda: billing.customers.CreateCustomer(
            cup.CreateCustomerRequest(
                customer=cup.Customer(display_name="Old", currency_code=code, time_zone="UTC"),
                request_id=rid(),
            ),
            metadata=billing.metadata,
        )
    )
    assert_invalid(error, "customer.currency_code")
    assert "withdrawn" in field_violations(error)["customer.currency_code"]
    assert left in field_violations(error)["customer.currency_code"]


def test_a_subscription_change_quantity_beyond_the_bound_is_refused(billing):
    customer = billing.customer(billing.clock("2026-04-01T00:00:00Z"))
    sub = billing.subscribe(customer, "team_monthly", quantities={"prices/team_seat_usd": 2})
    error = refused(
        lambda: billing.subs.PreviewChange(
            sp.PreviewChangeRequest(
                change=billing.change_request(sub, quantities={"prices/team_seat_usd": 2**62})
            ),
            metadata=billing.metadata,
        )
    )
    # Refused at the edge now, with the field's full path in the request.
    assert_invalid(error, 'change.quantities["prices/team_seat_usd"]')


# --- rule files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    ["1e3", "1_000", '" 5 "', "+5", ".5", "5.", "NaN", "Infinity", '"+5"', '"1e3"', '"\\u0665"'],
)
def test_a_rule_file_refuses_numbers_outside_the_grammar_with_file_line_and_column(written):
    files = rules()
    # Line 3, column 84 (83 characters before it) is where the value starts:
    #   "  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: "
    files["pricing.yaml"] = (
        b"kind: pricing\nprices:\n"
        b"  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: "
        + written.encode()
        + b"}\n"
    )
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(files, {"pricing_model": {"per_unit"}})
    found = [(e.file, e.line, e.column, format_path(e.path)) for e in raised.value.errors]
    assert ("pricing.yaml", 3, 84, "prices[0].unit_amount") in found, found


@pytest.mark.parametrize(("code", "left"), [("HRK", "2023-01-01"), ("EEK", "2011-01-01")])
def test_a_rule_file_refuses_a_price_in_a_withdrawn_currency(code, left):
    files = rules()
    files["pricing.yaml"] = (
        b"kind: pricing\nprices:\n"
        b"  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8}\n"
        b"  - {code: old, name: Old, model: per_unit, currency: " + code.encode() + b","
        b" unit_amount: 8}\n"
    )
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(files, {"pricing_model": {"per_unit"}})
    (error,) = raised.value.errors
    assert (error.file, error.line, format_path(error.path)) == (
        "pricing.yaml",
        4,
        "prices[1].currency",
    )
    assert f"{code} was withdrawn from ISO 4217 on {left}" in error.message


# --- cash rounding -------------------------------------------------------------------------

CHF_CASH = b"""kind: money
rounding: half_up
currencies:
  CHF: {cash_increment: 0.05}
"""


def chf_invoice(billing: Billing, unit: str) -> ip.Invoice:
    customer = billing.customers.CreateCustomer(
        cup.CreateCustomerRequest(
            customer=cup.Customer(display_name="Zurich AG", currency_code="CHF", time_zone="UTC"),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    invoice = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    add_line(billing, invoice, "1", unit)
    return billing.invoices.FinalizeInvoice(
        ip.FinalizeInvoiceRequest(name=invoice.name, request_id=rid()), metadata=billing.metadata
    )


@pytest.mark.parametrize(
    ("unit", "lines", "total"),
    [
        ("12.33", [1233, 2], 1235),  # 12.33 CHF is paid as 12.35: a +0.02 rounding line
        ("12.32", [1232, -2], 1230),  # 12.32 -> 12.30: -0.02
        ("12.35", [1235], 1235),  # already a multiple of 0.05: no line
        ("12.325", [1233, 2], 1235),  # the line rounds half up to 12.33 first, then the total
    ],
)
def test_chf_totals_are_rounded_to_five_rappen_with_a_rounding_line(billing, unit, lines, total):
    files = rules()
    files["money.yaml"] = CHF_CASH
    billing.push(files)
    final = chf_invoice(billing, unit)
    assert [line.amount.amount_minor for line in final.lines] == lines
    assert final.total.amount_minor == total == sum(lines)
    assert final.amount_due.amount_minor == total
    if len(lines) == 2:
        assert final.lines[1].line_kind == ip.ROUNDING
        assert final.lines[1].description == "Rounding to 0.05 CHF"


def test_cash_rounding_is_off_by_default(billing):
    billing.push(rules())  # money.yaml: rounding half_up, no increment
    final = chf_invoice(billing, "12.33")
    assert [line.amount.amount_minor for line in final.lines] == [1233]
    assert final.total.amount_minor == 1233


@pytest.mark.parametrize(
    ("increment", "message"),
    [
        ("0.005", "0.005 has more decimal places than CHF allows (2)"),
        ("0", "must be above 0"),
    ],
)
def test_a_cash_increment_must_be_payable(increment, message):
    files = rules()
    files["money.yaml"] = (
        b"kind: money\nrounding: half_up\ncurrencies:\n  CHF: {cash_increment: "
        + increment.encode()
        + b"}\n"
    )
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(files, {"pricing_model": {"per_unit"}})
    (error,) = raised.value.errors
    assert (error.file, error.line, format_path(error.path)) == (
        "money.yaml",
        4,
        "currencies.CHF.cash_increment",
    )
    assert message in error.message


def test_the_swiss_cash_rounding_example(billing):
    # rules/examples/swiss_cash_rounding/README.md: Hosting 24.90 + 2 support hours x 98.33
    # (196.66) = 221.56 CHF, rounded to 221.55 by a -0.01 line.
    example = REPO_RULES / "examples" / "swiss_cash_rounding"
    billing.push({p.name: p.read_bytes() for p in example.glob("*.yaml")})
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customers.CreateCustomer(
        cup.CreateCustomerRequest(
            customer=cup.Customer(
                display_name="Zurich AG", currency_code="CHF", time_zone="UTC", clock=clock.name
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    sub = billing.subscribe(customer, "hosting_monthly", quantities={"prices/support_hours_chf": 2})
    (first,) = billing.invoices_of(sub)
    assert [line.amount.amount_minor for line in first.lines] == [2490, 19666, -1]
    assert first.total.amount_minor == 22155
    assert first.lines[-1].line_kind == ip.ROUNDING
