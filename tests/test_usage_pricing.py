"""Usage-based pricing: the package, percentage and graduated_percentage models, and the
price-level flat_fee_at_zero of graduated and volume; the domain math exact to the digit and
the built-in engines as registered."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

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
from billing.rules.model import PercentageTier, Price, Tier

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
    assert fields == ["price", "quantity", "amounts"]  # flat_fee_at_zero moved to the price
