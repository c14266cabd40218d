"""Rule files for the usage-based models (package, percentage, graduated_percentage) and the
graduated and volume prices' flat_fee_at_zero: they load into `Price`, price as expected
through the registered engines, and broken ones are refused at file, line and path."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from rule_files import encode

from billing.plugins.engines import PricingRequest
from billing.plugins.registry import Engines, load_engines
from billing.rules import RuleSet, RuleSetInvalid, json_schemas, load_rule_set_from_files
from billing.rules.model import PercentageTier, Price

D = Decimal
NONE = D(0)

USAGE = """\
kind: pricing
prices:
  - code: storage_usd
    name: Storage
    unit: GB
    model: package
    currency: USD
    package_size: 100
    package_amount: "5.00"
    free_units: 100
  - code: exports_usd
    model: package
    currency: USD
    package_size: 1000
    package_amount: 2.50
  - code: card_usd
    name: Card payments
    model: percentage
    currency: USD
    rate: 1.2
    fixed_fee: "0.30"
    min_per_transaction: "0.50"
    max_per_transaction: "5.00"
  - code: wire_eur
    model: percentage
    currency: EUR
    rate: "0.25"
  - code: payouts_usd
    model: graduated_percentage
    currency: USD
    percentage_tiers:
      - {up_to: "1000.00", rate: 3, flat_amount: "10.00"}
      - {up_to: 5000.50, rate: 2}
      - {up_to: null, rate: "1.5"}
  - code: api_stripe_usd
    model: graduated
    currency: USD
    flat_fee_at_zero: true
    tiers:
      - {up_to: 100, unit_amount: "1.00", flat_amount: "10.00"}
      - {up_to: 200, unit_amount: "0.50"}
      - {up_to: null, unit_amount: "0.10"}
  - code: api_lago_usd
    model: volume
    currency: USD
    flat_fee_at_zero: false
    tiers:
      - {up_to: 100, unit_amount: "1.00", flat_amount: "10.00"}
      - {up_to: 200, unit_amount: "0.50"}
      - {up_to: null, unit_amount: "0.10"}
  - code: api_default_usd
    model: graduated
    currency: USD
    tiers:
      - {up_to: null, unit_amount: "0.0004"}
"""


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines()


@pytest.fixture(scope="module")
def rules(engines: Engines) -> RuleSet:
    return load_rule_set_from_files(encode({"pricing.yaml": USAGE}), engines.by_kind)


def price(rules: RuleSet, code: str) -> Price:
    (version,) = rules.prices[code]
    return version


def amount(
    engines: Engines, price: Price, quantity: Decimal = NONE, amounts: tuple[Decimal, ...] = ()
) -> Decimal:
    engine = engines.get("pricing_model", price.model)
    result: Decimal = engine.price(PricingRequest(price, quantity, amounts)).amount
    return result


def errors(files: Mapping[str, str], engines: Engines) -> list[tuple[str, int, int, str, str]]:
    """(file, line, column, path, message) of every error of a rule set that must not load."""
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(encode(files), engines.by_kind)
    return [(e.file, e.line, e.column, e.path_text, e.message) for e in raised.value.errors]


def one_price(body: str) -> dict[str, str]:
    return {"pricing.yaml": "kind: pricing\nprices:\n" + body}


# -- loading ----------------------------------------------------------------------------


def test_a_package_price_loads_and_prices(rules: RuleSet, engines: Engines) -> None:
    storage = price(rules, "storage_usd")
    assert (storage.package_size, storage.package_amount, storage.free_units) == (
        100,
        D("5.00"),
        100,
    )
    assert amount(engines, storage, D(350)) == D("15.00")
    assert amount(engines, storage, D(0)) == D(0)
    exports = price(rules, "exports_usd")
    assert exports.free_units == 0
    assert amount(engines, exports, D(2001)) == D("7.50")


def test_a_percentage_price_loads_and_prices(rules: RuleSet, engines: Engines) -> None:
    card = price(rules, "card_usd")
    assert (card.rate, card.fixed_fee, card.min_per_transaction, card.max_per_transaction) == (
        D("1.2"),
        D("0.30"),
        D("0.50"),
        D("5.00"),
    )
    assert card.unit_amount is None and card.tiers == ()
    transactions = (D("10.00"), D("100.00"), D("1000.00"))
    assert amount(engines, card, amounts=transactions) == D("7.00")
    assert amount(engines, card, amounts=(D("50.40"), D("50.40"))) == D("1.8096")
    assert amount(engines, card) == D(0)
    wire = price(rules, "wire_eur")
    assert (wire.fixed_fee, wire.min_per_transaction, wire.max_per_transaction) == (None,) * 3
    assert amount(engines, wire, amounts=(D("10000.00"),)) == D("25.0000")


def test_a_graduated_percentage_price_loads_and_prices(rules: RuleSet, engines: Engines) -> None:
    payouts = price(rules, "payouts_usd")
    assert payouts.percentage_tiers == (
        PercentageTier(D("1000.00"), D(3), D("10.00")),
        PercentageTier(D("5000.50"), D(2)),
        PercentageTier(None, D("1.5")),
    )
    volume = (D("2500.00"), D("4000.00"), D("500.25"))
    assert amount(engines, payouts, amounts=volume) == D("150.00625")


def test_flat_fee_at_zero_is_a_price_rule_that_defaults_to_false(
    rules: RuleSet, engines: Engines
) -> None:
    stripe, lago = price(rules, "api_stripe_usd"), price(rules, "api_lago_usd")
    assert stripe.flat_fee_at_zero is True
    assert lago.flat_fee_at_zero is False
    assert price(rules, "api_default_usd").flat_fee_at_zero is False
    assert amount(engines, stripe, D(0)) == D("10.00")
    assert amount(engines, lago, D(0)) == D(0)
    assert amount(engines, stripe, D(250)) == D("165.00")
    assert amount(engines, lago, D(250)) == D("25.00")
    assert amount(engines, price(rules, "api_default_usd"), D(1_234_567)) == D("493.8268")


# -- refused ----------------------------------------------------------------------------


def test_package_size_zero_is_refused(engines: Engines) -> None:
    files = one_price(
        """\
  - code: storage
    model: package
    currency: USD
    package_size: 0
    package_amount: "5.00"
    free_units: -1
"""
    )
    assert errors(files, engines) == [
        ("pricing.yaml", 6, 19, "prices[0].package_size", "must be at least 1, got 0"),
        ("pricing.yaml", 8, 17, "prices[0].free_units", "must be at least 0, got -1"),
    ]


def test_a_percentage_without_rate_is_refused(engines: Engines) -> None:
    files = one_price(
        """\
  - code: card
    model: percentage
    currency: USD
    fixed_fee: "0.30"
  - code: payouts
    model: graduated_percentage
    currency: USD
    percentage_tiers:
      - {up_to: 1000, flat_amount: "10.00"}
      - {up_to: null, rate: 1}
"""
    )
    assert errors(files, engines) == [
        ("pricing.yaml", 3, 5, "prices[0]", "model percentage needs rate"),
        ("pricing.yaml", 11, 9, "prices[1].percentage_tiers[0].rate", "required key is missing"),
    ]


def test_a_maximum_fee_below_the_minimum_is_refused(engines: Engines) -> None:
    files = one_price(
        """\
  - code: card
    model: percentage
    currency: USD
    rate: 1.2
    min_per_transaction: "0.50"
    max_per_transaction: "0.40"
"""
    )
    assert errors(files, engines) == [
        (
            "pricing.yaml", 8, 26, "prices[0].max_per_transaction",
            "max_per_transaction 0.40 is below min_per_transaction 0.50",
        ),
    ]  # fmt: skip


def test_each_model_reads_only_its_own_fields(engines: Engines) -> None:
    files = one_price(
        """\
  - code: seats
    model: per_unit
    currency: USD
    unit_amount: 10
    flat_fee_at_zero: true
  - code: storage
    model: package
    currency: USD
    package_amount: 5
    rate: 1
  - code: card
    model: percentage
    currency: USD
    rate: 1.2
    free_units: 10
    tiers:
      - {up_to: null, unit_amount: 1}
  - code: payouts
    model: graduated_percentage
    currency: USD
    package_size: 10
"""
    )
    assert errors(files, engines) == [
        ("pricing.yaml", 7, 5, "prices[0].flat_fee_at_zero",
         "model per_unit does not read flat_fee_at_zero"),
        ("pricing.yaml", 8, 5, "prices[1]", "model package needs package_size"),
        ("pricing.yaml", 12, 5, "prices[1].rate", "model package does not read rate"),
        ("pricing.yaml", 17, 5, "prices[2].free_units",
         "model percentage does not read free_units"),
        ("pricing.yaml", 18, 5, "prices[2].tiers", "model percentage does not read tiers"),
        ("pricing.yaml", 20, 5, "prices[3]", "model graduated_percentage needs percentage_tiers"),
        ("pricing.yaml", 23, 5, "prices[3].package_size",
         "model graduated_percentage does not read package_size"),
    ]  # fmt: skip


def test_percentage_amounts_and_volume_tiers_are_checked(engines: Engines) -> None:
    files = one_price(
        """\
  - code: card
    model: percentage
    currency: USD
    rate: 1.2
    fixed_fee: "0.0000000000001"
  - code: payouts
    model: graduated_percentage
    currency: USD
    percentage_tiers:
      - {up_to: 0, rate: 3}
      - {up_to: "1000.005", rate: 2, flat_amount: "0.001"}
      - {up_to: 500, rate: 1}
      - {up_to: null, rate: 1}
      - {up_to: 2000, rate: 1}
  - code: overcharge
    model: percentage
    currency: USD
    rate: 101
"""
    )
    assert errors(files, engines) == [
        ("pricing.yaml", 7, 16, "prices[0].fixed_fee", "more than 12 decimal places"),
        ("pricing.yaml", 12, 17, "prices[1].percentage_tiers[0].up_to", "up_to must be above 0"),
        ("pricing.yaml", 13, 17, "prices[1].percentage_tiers[1].up_to",
         "1000.005 has more decimal places than USD allows (2)"),
        ("pricing.yaml", 13, 51, "prices[1].percentage_tiers[1].flat_amount",
         "0.001 has more decimal places than USD allows (2)"),
        ("pricing.yaml", 14, 17, "prices[1].percentage_tiers[2].up_to",
         "tiers must ascend: up_to 500 is not above 1000.005"),
        ("pricing.yaml", 15, 17, "prices[1].percentage_tiers[3].up_to",
         "only the last tier may be unbounded (up_to: null)"),
        ("pricing.yaml", 16, 17, "prices[1].percentage_tiers[4].up_to",
         "the last tier must have up_to: null, so volumes above 2000 have a price"),
        ("pricing.yaml", 20, 11, "prices[2].rate", "must be at most 100, got 101"),
    ]  # fmt: skip


def test_flat_fee_at_zero_must_be_a_boolean(engines: Engines) -> None:
    files = one_price(
        """\
  - code: api
    model: volume
    currency: USD
    flat_fee_at_zero: sometimes
    tiers:
      - {up_to: null, unit_amount: 1}
"""
    )
    assert errors(files, engines) == [
        ("pricing.yaml", 6, 23, "prices[0].flat_fee_at_zero",
         "expected true or false, got 'sometimes'"),
    ]  # fmt: skip


# -- editors ----------------------------------------------------------------------------


def test_the_json_schema_describes_the_usage_fields() -> None:
    fields = json_schemas()["pricing"]["properties"]["prices"]["items"]["properties"]
    assert fields["flat_fee_at_zero"]["type"] == "boolean"
    assert fields["package_size"]["minimum"] == 1
    assert fields["free_units"]["minimum"] == 0
    assert fields["rate"]["anyOf"][0] == {"type": "number", "minimum": 0, "maximum": 100}
    tier = fields["percentage_tiers"]["items"]
    assert tier["required"] == ["up_to", "rate"]
    assert tier["properties"]["up_to"]["anyOf"][1] == {"type": "null"}
