"""Usage-based pricing: the package, percentage and graduated_percentage models, the
price-level flat_fee_at_zero of graduated and volume, and the policies billing teams expect
(free units on percentages, block sizes on tiers, prorated seats); the domain math exact to
the digit, the built-in engines as registered, the rules refused where they are written, and
the policies through PreviewPrice and a usage invoice."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
import pytest

from billing.domain.money import round_to_minor
from billing.domain.pricing import (
    graduated,
    graduated_percentage,
    package,
    per_unit,
    percentage,
    volume,
)
from billing.plugins.engines import PricingRequest
from billing.plugins.registry import Engines, load_engines
from billing.rules import RuleSet, RuleSetInvalid, json_schemas, load_rule_set_from_files
from billing.rules.model import PercentageTier, Price, Tier
from billing_client.v1 import catalog_pb2 as cat
from billing_client.v1 import catalog_pb2_grpc, usage_pb2_grpc
from billing_client.v1 import usage_pb2 as up
from billing_fixtures import Billing, rules, ts
from rules.rule_files import encode

D = Decimal
NONE = D(0)
TIERS = (Tier(100, D("1.00"), D("10.00")), Tier(200, D("0.50")), Tier(None, D("0.10")))
# Hand-computed below: 3% up to 1000.00 (flat 10.00), 2% up to 5000.50, then 1.5%.
VOLUME_TIERS = (
    PercentageTier(D("1000.00"), D(3), D("10.00")),
    PercentageTier(D("5000.50"), D(2)),
    PercentageTier(None, D("1.5")),
)
CARD = {  # 1.2% + 0.30 per transaction, each fee between 0.50 and 5.00
    "rate": D("1.2"),
    "fixed_fee": D("0.30"),
    "min_per_transaction": D("0.50"),
    "max_per_transaction": D("5.00"),
}


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines()


def priced_by(
    engines: Engines,
    price: Price,
    *,
    quantity: Decimal = NONE,
    amounts: tuple[Decimal, ...] = (),
) -> Decimal:
    engine = engines.get("pricing_model", price.model)
    amount: Decimal = engine.price(PricingRequest(price, quantity, amounts)).amount
    return amount


# -- quantity models: the numbers of the brief -----------------------------------------


def test_graduated_tiers_on_250_units() -> None:
    assert graduated(D(250), TIERS).amount == D("165.00")  # 110.00 + 50.00 + 5.00


def test_volume_on_the_same_tiers() -> None:
    assert volume(D(250), TIERS).amount == D("25.00")  # 250 x 0.10, the tier reached


def test_a_sub_cent_unit_price_stays_exact_until_the_line_is_rounded() -> None:
    amount = per_unit(D(1_234_567), D("0.0004")).amount
    assert amount == D("493.8268")
    assert round_to_minor(amount, "USD").to_decimal() == D("493.83")


# -- package --------------------------------------------------------------------------


def test_package_counts_a_started_package_in_full_after_the_free_units() -> None:
    priced = package(D(350), 100, D("5.00"), free_units=100)
    assert priced.amount == D("15.00")  # 250 billable units -> 3 packages of 100
    assert [(s.quantity, s.unit_amount, s.amount) for s in priced.steps] == [
        (D(100), D(0), D(0)),
        (D(3), D("5.00"), D("15.00")),
    ]
    assert priced.steps[0].description == "units 1 to 100 free"
    assert priced.steps[1].description == "3 packages of 100 units for units 101 to 350"


@pytest.mark.parametrize(
    ("quantity", "free_units", "amount"),
    [
        (D(0), 0, D(0)),  # no usage, no package
        (D(0), 100, D(0)),
        (D(100), 100, D(0)),  # all free
        (D(1), 0, D("5.00")),  # one unit starts a package
        (D(100), 0, D("5.00")),
        (D(101), 0, D("10.00")),
        (D(200), 0, D("10.00")),
        (D("100.5"), 100, D("5.00")),  # half a unit beyond the free ones starts a package
    ],
)
def test_package_edges(quantity: Decimal, free_units: int, amount: Decimal) -> None:
    assert package(quantity, 100, D("5.00"), free_units=free_units).amount == amount


def test_package_with_zero_usage_has_no_steps() -> None:
    assert package(D(0), 100, D("5.00"), free_units=100).steps == ()


def test_package_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        package(D(10), 0, D("5.00"))


# -- percentage -------------------------------------------------------------------------


def test_percentage_bounds_the_whole_fee_of_each_transaction() -> None:
    priced = percentage((D("10.00"), D("100.00"), D("1000.00")), **CARD)
    # 10.00: 0.12 + 0.30 = 0.42 -> min 0.50; 100.00: 1.20 + 0.30 = 1.50; 1000.00: 12.30 -> 5.00
    assert priced.amount == D("7.00")
    assert [(s.description, s.quantity, s.unit_amount, s.flat_amount, s.amount) for s in priced.steps] == [
        ("1 transaction: 1.2% of 100.00 + 0.30 each", D("100.00"), D("0.012"), D("0.30"), D("1.50")),
        ("1 transaction raised to the minimum of 0.50 each", D(1), D("0.50"), D(0), D("0.50")),
        ("1 transaction capped at the maximum of 5.00 each", D(1), D("5.00"), D(0), D("5.00")),
    ]  # fmt: skip


def test_percentage_fees_stay_unrounded_and_the_line_is_rounded_once() -> None:
    priced = percentage((D("50.40"), D("50.40")), **CARD)
    assert priced.amount == D("1.8096")  # 0.9048 + 0.9048
    assert round_to_minor(priced.amount, "USD").to_decimal() == D("1.81")  # not 0.90 + 0.90
    assert priced.steps[0].description == "2 transactions: 1.2% of 100.80 + 0.30 each"
    assert priced.steps[0].flat_amount == D("0.60")


def test_percentage_with_no_transactions_is_zero() -> None:
    priced = percentage((), **CARD)
    assert priced.amount == D(0)
    assert priced.steps == ()


def test_percentage_rate_alone_and_a_minimum_equal_to_the_maximum() -> None:
    assert percentage((D("19.99"),), D("2.9")).amount == D("0.57971")
    fixed = percentage((D(1), D(1000)), D(1), min_per_transaction=D(2), max_per_transaction=D(2))
    assert fixed.amount == D(4)


def test_negative_transaction_amounts_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        percentage((D("10.00"), D("-1.00")), D(1))
    with pytest.raises(ValueError, match="must not be negative"):
        graduated_percentage((D("-1.00"),), VOLUME_TIERS)


# -- percentage: free units (Lago's free_units_per_events, free_units_per_total_aggregation)
LAGO_FEE = {"rate": D("1.2"), "fixed_fee": D("0.10")}


def test_free_units_lagos_documented_example() -> None:
    # Lago's example: the first 3 events or 500.00 are free, then 1.2% + 0.10. 200.00, 100.00
    # and 100.00 are free (3 events, 400.00 of 500.00); the 4th (50.00) is past 3 events:
    # 1.2% of 50.00 + 0.10 = 0.60 + 0.10 = 0.70.
    priced = percentage(
        (D("200.00"), D("100.00"), D("100.00"), D("50.00")),
        **LAGO_FEE,
        free_units_per_events=3,
        free_units_per_total_aggregation=D("500.00"),
    )
    assert priced.amount == D("0.70")
    assert [(s.description, s.quantity, s.unit_amount, s.flat_amount, s.amount) for s in priced.steps] == [
        ("3 transactions free: 400.00", D("400.00"), D(0), D(0), D(0)),
        ("1 transaction: 1.2% of 50.00 + 0.10 each", D("50.00"), D("0.012"), D("0.10"), D("0.7000")),
    ]  # fmt: skip


def test_the_transaction_that_crosses_the_free_amount_pays_on_the_rest_and_the_fixed_fee() -> None:
    # 500.00 free: 300.00 free; 400.00 has 200.00 free and pays 1.2% of 200.00 + 0.10 = 2.50;
    # 100.00 pays 1.20 + 0.10 = 1.30. Total 3.80 (Lago: 1.2% of 800 - 500, + 2 x 0.10).
    priced = percentage(
        (D("300.00"), D("400.00"), D("100.00")),
        **LAGO_FEE,
        free_units_per_total_aggregation=D("500.00"),
    )
    assert priced.amount == D("3.80")
    assert [(s.description, s.quantity, s.amount) for s in priced.steps] == [
        ("1 transaction free and 200.00 of the next: 500.00", D("500.00"), D(0)),
        ("2 transactions: 1.2% of 300.00 + 0.10 each", D("300.00"), D("3.8000")),
    ]


@pytest.mark.parametrize(
    ("events", "total", "fee"),
    [
        # the first 2 transactions free whatever their amount; 100.00 pays 1.20 + 0.10
        (2, None, D("1.30")),
        # both limits: the free amount runs out within the 2nd transaction (as above)
        (2, D("500.00"), D("3.80")),
        # both limits: the free events run out first; 400.00 and 100.00 pay 4.90 + 1.30
        (1, D("500.00"), D("6.20")),
        # no free units: 3.70 + 4.90 + 1.30
        (None, None, D("9.90")),
        (0, D(0), D("9.90")),
        # more free units than usage: nothing to pay
        (10, D("10000.00"), D(0)),
    ],
)
def test_free_units_end_with_whichever_limit_runs_out_first(
    events: int | None, total: Decimal | None, fee: Decimal
) -> None:
    amounts = (D("300.00"), D("400.00"), D("100.00"))
    priced = percentage(
        amounts,
        **LAGO_FEE,
        free_units_per_events=events,
        free_units_per_total_aggregation=total,
    )
    assert priced.amount == fee


def test_free_transactions_are_not_raised_to_the_minimum_but_the_crossing_one_is() -> None:
    bounds = {"min_per_transaction": D("0.50"), "max_per_transaction": D("5.00")}
    # 2 free events; the 3rd pays 0.12 + 0.10 = 0.22, raised to 0.50
    three = (D("10.00"), D("10.00"), D("10.00"))
    assert percentage(three, **LAGO_FEE, **bounds, free_units_per_events=2).amount == D("0.50")
    # 100.00 free: 90.00 free, 20.00 pays on 10.00: 0.12 + 0.10 = 0.22, raised to 0.50
    two = (D("90.00"), D("20.00"))
    priced = percentage(two, **LAGO_FEE, **bounds, free_units_per_total_aggregation=D(100))
    assert priced.amount == D("0.50")


def test_negative_free_units_are_refused() -> None:
    with pytest.raises(ValueError, match="free units"):
        percentage((D(1),), D(1), free_units_per_events=-1)
    with pytest.raises(ValueError, match="free units"):
        percentage((D(1),), D(1), free_units_per_total_aggregation=D("-0.01"))


def test_the_percentage_engine_reads_the_free_units(engines: Engines) -> None:
    price = Price(
        "card",
        "percentage",
        "USD",
        rate=D("1.2"),
        fixed_fee=D("0.10"),
        free_units_per_events=3,
        free_units_per_total_aggregation=D("500.00"),
    )
    amounts = (D("200.00"), D("100.00"), D("100.00"), D("50.00"))
    assert priced_by(engines, price, amounts=amounts) == D("0.70")


# -- graduated_percentage -------------------------------------------------------------


def test_graduated_percentage_applies_each_rate_to_the_volume_in_its_tier() -> None:
    priced = graduated_percentage((D("2500.00"), D("4000.00"), D("500.25")), VOLUME_TIERS)
    # volume 7000.25: 1000.00 x 3% + 10.00 = 40.00; 4000.50 x 2% = 80.0100;
    # 1999.75 x 1.5% = 29.99625; total 150.00625, which rounds (half up) to 150.01
    assert priced.amount == D("150.00625")
    assert [(s.description, s.quantity, s.unit_amount, s.flat_amount, s.amount) for s in priced.steps] == [
        ("volume up to 1000.00 at 3%", D("1000.00"), D("0.03"), D("10.00"), D("40.00")),
        ("volume above 1000.00 up to 5000.50 at 2%", D("4000.50"), D("0.02"), D(0), D("80.0100")),
        ("volume above 5000.50 at 1.5%", D("1999.75"), D("0.015"), D(0), D("29.99625")),
    ]  # fmt: skip
    assert round_to_minor(priced.amount, "USD").to_decimal() == D("150.01")


@pytest.mark.parametrize(
    ("amounts", "amount"),
    [
        ((), D(0)),  # no volume: not even the first tier's flat amount
        ((D("0.00"),), D(0)),
        ((D("400.00"), D("600.00")), D("40.00")),  # exactly the first bound
        ((D("1000.01"),), D("40.0002")),  # one cent into the second tier
    ],
)
def test_graduated_percentage_edges(amounts: tuple[Decimal, ...], amount: Decimal) -> None:
    assert graduated_percentage(amounts, VOLUME_TIERS).amount == amount


# -- the engines, as registered ---------------------------------------------------------


def test_the_usage_models_are_registered_built_ins(engines: Engines) -> None:
    assert {"package", "percentage", "graduated_percentage"} <= engines.names()["pricing_model"]
    assert "builtin_pricing" in engines.plugin_names


def test_package_engine_reads_the_price_and_the_quantity(engines: Engines) -> None:
    price = Price(
        "storage", "package", "USD", package_size=100, package_amount=D("5.00"), free_units=100
    )
    assert priced_by(engines, price, quantity=D(350)) == D("15.00")
    assert priced_by(engines, price, quantity=D(0)) == D(0)


def test_percentage_engines_read_the_amounts_not_the_quantity(engines: Engines) -> None:
    card = Price(
        "card",
        "percentage",
        "USD",
        rate=D("1.2"),
        fixed_fee=D("0.30"),
        min_per_transaction=D("0.50"),
        max_per_transaction=D("5.00"),
    )
    amounts = (D("10.00"), D("100.00"), D("1000.00"))
    assert priced_by(engines, card, amounts=amounts) == D("7.00")
    assert priced_by(engines, card, quantity=D(1000), amounts=amounts) == D("7.00")
    assert priced_by(engines, card, quantity=D(1000)) == D(0)
    payouts = Price("payouts", "graduated_percentage", "USD", percentage_tiers=VOLUME_TIERS)
    amounts = (D("2500.00"), D("4000.00"), D("500.25"))
    assert priced_by(engines, payouts, amounts=amounts) == D("150.00625")


@pytest.mark.parametrize("model", ["graduated", "volume"])
def test_flat_fee_at_zero_is_a_field_of_the_price(engines: Engines, model: str) -> None:
    lago = Price("api", model, "USD", tiers=TIERS)
    stripe = dataclasses.replace(lago, flat_fee_at_zero=True)
    assert priced_by(engines, lago, quantity=D(0)) == D(0)
    assert priced_by(engines, stripe, quantity=D(0)) == D("10.00")
    expected = D("165.00") if model == "graduated" else D("25.00")
    assert priced_by(engines, lago, quantity=D(250)) == expected
    assert priced_by(engines, stripe, quantity=D(250)) == expected


def test_the_request_carries_usage_only() -> None:
    fields = [f.name for f in dataclasses.fields(PricingRequest)]
    # flat_fee_at_zero moved to the price; prorated usage came last (additive)
    assert fields == ["price", "quantity", "amounts", "prorated"]


# -- the rules: loaded, and refused at file, line and column -----------------------------
POLICIES_METERING = """\
kind: metering
metrics:
  - {code: payments, aggregation: sum, field: amount}
  - {code: seats, aggregation: time_weighted_sum, field: count}
  - {code: api_calls, aggregation: count}
"""
POLICIES_PRICING = """\
kind: pricing
prices:
  - code: card_usd
    model: percentage
    currency: USD
    metric: payments
    rate: 1.2
    fixed_fee: "0.10"
    free_units_per_events: 3
    free_units_per_total_aggregation: "500.00"
  - code: api_usd
    model: graduated
    currency: USD
    metric: api_calls
    tiers:
      - {up_to: 1000, unit_amount: "5.00", block_size: 100}
      - {up_to: null, unit_amount: "4.00", block_size: 100}
  - code: seats_usd
    model: graduated
    currency: USD
    metric: seats
    prorated: true
    tiers:
      - {up_to: 10, unit_amount: "10.00"}
      - {up_to: null, unit_amount: "8.00"}
"""


def _load(pricing: str, engines: Engines) -> RuleSet:
    files = {"pricing.yaml": pricing, "metering.yaml": POLICIES_METERING}
    return load_rule_set_from_files(encode(files), engines.by_kind)


def _errors(pricing: str, engines: Engines) -> list[tuple[str, int, int, str, str]]:
    with pytest.raises(RuleSetInvalid) as raised:
        _load(pricing, engines)
    return [(e.file, e.line, e.column, e.path_text, e.message) for e in raised.value.errors]


def test_the_policy_knobs_load_into_the_price(engines: Engines) -> None:
    rules = _load(POLICIES_PRICING, engines)
    (card,) = rules.prices["card_usd"]
    assert (card.free_units_per_events, card.free_units_per_total_aggregation) == (3, D("500.00"))
    (api,) = rules.prices["api_usd"]
    assert [tier.block_size for tier in api.tiers] == [100, 100]
    (seats,) = rules.prices["seats_usd"]
    assert seats.prorated is True
    assert card.prorated is False
    assert priced_by(engines, api, quantity=D(250)) == D("15.00")  # 3 blocks x 5.00


def test_bad_policy_values_are_refused_where_they_are_written(engines: Engines) -> None:
    pricing = """\
kind: pricing
prices:
  - code: api
    model: graduated
    currency: USD
    tiers:
      - {up_to: 1000, unit_amount: "5.00", block_size: 0}
      - {up_to: null, unit_amount: "4.00"}
  - code: card
    model: percentage
    currency: USD
    rate: 1
    free_units_per_events: -1
    free_units_per_total_aggregation: "-5"
  - code: wire
    model: percentage
    currency: USD
    rate: 1
    free_units_per_total_aggregation: "0.001"
  - code: calls
    model: per_unit
    currency: USD
    metric: api_calls
    unit_amount: 1
    prorated: true
  - code: storage
    model: package
    currency: USD
    package_size: 10
    package_amount: 1
    prorated: true
  - code: loose
    model: volume
    currency: USD
    prorated: true
    tiers:
      - {up_to: null, unit_amount: 1, block_size: 10}
"""
    assert _errors(pricing, engines) == [
        ("pricing.yaml", 7, 56, "prices[0].tiers[0].block_size", "must be at least 1, got 0"),
        ("pricing.yaml", 13, 28, "prices[1].free_units_per_events", "must be at least 0, got -1"),
        ("pricing.yaml", 14, 39, "prices[1].free_units_per_total_aggregation", "must be at least 0, got -5"),
        ("pricing.yaml", 19, 39, "prices[2].free_units_per_total_aggregation", "0.001 has more decimal places than USD allows (2)"),
        (
            "pricing.yaml", 25, 15, "prices[3].prorated",
            "metric 'api_calls' aggregates with count, whose units do not persist from one period"
            " to the next; prorated needs one of: latest_ever, time_weighted_sum",
        ),
        ("pricing.yaml", 31, 5, "prices[4].prorated", "model package does not read prorated"),
        ("pricing.yaml", 35, 15, "prices[5].prorated", "prorated needs a metric (a price billed from usage)"),
        ("pricing.yaml", 37, 39, "prices[5].tiers[0].block_size", "a prorated price prices single units, not blocks"),
    ]  # fmt: skip


def test_the_json_schema_covers_the_policy_knobs() -> None:
    price = json_schemas()["pricing"]["properties"]["prices"]["items"]["properties"]
    assert price["free_units_per_events"]["type"] == "integer"
    assert price["free_units_per_events"]["minimum"] == 0
    assert "free_units_per_total_aggregation" in price
    assert price["prorated"]["type"] == "boolean"
    tier = price["tiers"]["items"]["properties"]
    assert tier["block_size"]["type"] == "integer"
    assert tier["block_size"]["minimum"] == 1


# -- through the API: PreviewPrice and a usage invoice, on SQLite and PostgreSQL -----------
API_PRICING = """kind: pricing
prices:
  - {code: team_seat_usd, name: Seat, model: per_unit, currency: USD, unit_amount: 8.00}
  - code: card_usd
    name: Card fees
    model: percentage
    metric: payments
    currency: USD
    rate: 1.2
    fixed_fee: "0.10"
    free_units_per_events: 3
    free_units_per_total_aggregation: "500.00"
  - code: api_usd
    name: API calls
    model: graduated
    metric: api_calls
    currency: USD
    tiers:
      - {up_to: 1000, unit_amount: "5.00", block_size: 100}
      - {up_to: null, unit_amount: "4.00", block_size: 100}
  - code: seats_graduated_usd
    name: Seats
    model: graduated
    metric: seats
    currency: USD
    prorated: true
    tiers:
      - {up_to: 10, unit_amount: "10.00"}
      - {up_to: null, unit_amount: "8.00"}
  - code: seats_volume_usd
    name: Seats
    model: volume
    metric: seats
    currency: USD
    prorated: true
    tiers:
      - {up_to: 10, unit_amount: "10.00"}
      - {up_to: null, unit_amount: "8.00"}
"""
API_PLAN = """
  - code: metered_monthly
    name: Metered
    product: pro
    interval: month
    prices:
      - {currency: USD, amount: 30.00}
      - {currency: USD, price: card_usd}
      - {currency: USD, price: api_usd}
      - {currency: USD, price: seats_graduated_usd}
      - {currency: USD, price: seats_volume_usd}
plan_changes:"""


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Any) -> Billing:
    files = rules()
    files["catalog.yaml"] = (
        files["catalog.yaml"].decode().replace("plan_changes:", API_PLAN, 1).encode()
    )
    files["pricing.yaml"] = API_PRICING.encode()
    files["metering.yaml"] = (
        "kind: metering\nmax_lateness_hours: 720\ndraft_grace_hours: 24\nmetrics:\n"
        + POLICIES_METERING.split("metrics:\n", 1)[1]
    ).encode()
    b = Billing(channel, tenant.metadata)
    b.push(files)
    return b


def _event(sub: Any, metric: str, at: str, **props: str) -> up.UsageEvent:
    return up.UsageEvent(
        id=uuid.uuid4().hex,
        subscription=sub.name,
        metric=metric,
        timestamp=ts(at),
        properties=props,
    )


def _ingest(channel: grpc.Channel, billing: Billing, events: list[up.UsageEvent]) -> None:
    usage = usage_pb2_grpc.UsageServiceStub(channel)
    result = usage.IngestUsage(up.IngestUsageRequest(events=events), metadata=billing.metadata)
    assert result.accepted == len(events)


@pytest.mark.parametrize(
    ("quantity", "minor"),
    [("250", 1500), ("1000", 5000), ("1001", 5400)],  # 3 x 5.00; 10 x 5.00; 10 x 5.00 + 4.00
)
def test_preview_price_counts_started_blocks(
    channel: grpc.Channel, billing: Billing, quantity: str, minor: int
) -> None:
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    preview = catalog.PreviewPrice(
        cat.PreviewPriceRequest(price="prices/api_usd", quantity=quantity),
        metadata=billing.metadata,
    )
    assert preview.amount.amount_minor == minor


def _april_invoice_line(billing: Billing, sub: Any, price: str) -> Any:
    may = billing.invoices_of(sub)[1]  # the 1 May renewal carries April's usage
    return next(line for line in may.lines if line.price == f"prices/{price}")


def test_free_units_on_a_usage_invoice(channel: grpc.Channel, billing: Billing) -> None:
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    payments = [("2026-04-02T00:00:00Z", "200.00"), ("2026-04-03T00:00:00Z", "100.00")]
    payments += [("2026-04-04T00:00:00Z", "100.00"), ("2026-04-05T00:00:00Z", "50.00")]
    billing.advance(clock, "2026-04-27T00:00:00Z")  # events in the future are refused
    _ingest(channel, billing, [_event(sub, "payments", at, amount=a) for at, a in payments])
    billing.advance(clock, "2026-05-02T00:00:00Z")
    # Lago's example: 3 events or 500.00 free; the 4th pays 1.2% of 50.00 + 0.10 = 0.70
    assert _april_invoice_line(billing, sub, "card_usd").amount.amount_minor == 70


def test_prorated_seats_on_a_usage_invoice(channel: grpc.Channel, billing: Billing) -> None:
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "metered_monthly")
    levels = [("2026-04-01T00:00:00Z", "8"), ("2026-04-16T00:00:00Z", "12")]
    levels += [("2026-04-26T00:00:00Z", "10")]
    billing.advance(clock, "2026-04-27T00:00:00Z")  # events in the future are refused
    _ingest(channel, billing, [_event(sub, "seats", at, count=n) for at, n in levels])
    billing.advance(clock, "2026-05-02T00:00:00Z")
    # April (30 days): 8 seats for 15 days, 12 for 10, 10 for 5.
    # graduated: seats 1-10 held 15x8 + 10x10 + 5x10 = 270 seat-days = 9 seats x 10.00 = 90.00;
    # seats 11-12 held 10x2 = 20 seat-days = 0.666... seats x 8.00 = 5.333...; 95.33
    assert _april_invoice_line(billing, sub, "seats_graduated_usd").amount.amount_minor == 9533
    # volume: the peak, 12 seats, picks 8.00 for all 290/30 = 9.666... seats: 77.33
    assert _april_invoice_line(billing, sub, "seats_volume_usd").amount.amount_minor == 7733


# -- the worked example of rules/examples/usage_pricing ----------------------------------
EXAMPLE = Path(__file__).parents[1] / "rules" / "examples" / "usage_pricing"


def test_the_usage_pricing_example_bills_its_worked_april(
    channel: grpc.Channel, tenant: Any
) -> None:
    billing = Billing(channel, tenant.metadata)
    files = {p.name: p.read_bytes() for p in EXAMPLE.iterdir() if p.suffix == ".yaml"}
    assert list(billing.push(files).warnings) == []
    clock = billing.clock("2026-04-01T00:00:00Z")
    sub = billing.subscribe(billing.customer(clock), "platform_monthly")
    april: list[tuple[str, str, dict[str, str]]] = [
        ("2026-04-01T00:00:00Z", "seats", {"count": "8"}),
        ("2026-04-02T00:00:00Z", "payments", {"amount": "200.00"}),
        ("2026-04-03T00:00:00Z", "payments", {"amount": "100.00"}),
        ("2026-04-04T00:00:00Z", "payments", {"amount": "100.00"}),
        ("2026-04-05T00:00:00Z", "payments", {"amount": "50.00"}),
        ("2026-04-16T00:00:00Z", "seats", {"count": "12"}),
        ("2026-04-26T00:00:00Z", "seats", {"count": "10"}),
    ]
    for at, metric, props in april:  # each sent when it happens, within max lateness
        billing.advance(clock, at)
        _ingest(channel, billing, [_event(sub, metric, at, **props)])
    billing.advance(clock, "2026-04-27T00:00:00Z")
    _ingest(
        channel, billing, [_event(sub, "api_calls", "2026-04-27T00:00:00Z") for _ in range(250)]
    )
    billing.advance(clock, "2026-05-01T00:00:00Z")
    may = billing.invoices_of(sub)[1]
    by_price = {line.price: line.amount.amount_minor for line in may.lines}
    assert by_price == {
        "": 3000,  # May's 30.00, in advance
        "prices/card_fees_usd": 70,  # 1.2% x 50.00 + 0.10: the 4th payment, past 3 free
        "prices/api_calls_usd": 1500,  # 250 calls: 3 started blocks x 5.00
        "prices/seats_usd": 9533,  # 9 seats x 10.00 + 20/30 seat x 8.00, prorated
    }
