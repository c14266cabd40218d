"""The structure pass: kinds, schemas, and problems placed at their line and column."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from textwrap import dedent

from rule_files import load, problems

from billing.rules import Entitlement, MoneyRules, Plan, PlanPrice

PRODUCTS = dedent(
    """\
    kind: catalog
    products:
      - code: basic
        name: Basic
        features: [reports]
    """
)


def test_a_file_needs_a_known_kind() -> None:
    assert problems(
        {
            "a.yaml": "rounding: half_up\n",
            "b.yaml": "kind: taxes\n",
            "c.yaml": "- just\n- a list\n",
            "d.yaml": "",
        }
    ) == [
        "a.yaml:1:1: missing top-level kind; expected one of catalog, money, proration, "
        "pricing, tax, recognition, dunning, routing, invoicing, metering, payments, ledger",
        "b.yaml:1:7: kind: unknown kind 'taxes'; expected one of catalog, money, proration, "
        "pricing, tax, recognition, dunning, routing, invoicing, metering, payments, ledger",
        "c.yaml:1:1: a rule file is a mapping with a top-level kind, got a list",
        "d.yaml:1:1: a rule file is a mapping with a top-level kind, got null",
    ]


def test_recognition_is_no_longer_reserved_so_unknown_keys_are_refused() -> None:
    files = {"catalog.yaml": PRODUCTS, "revenue.yaml": "kind: recognition\nanything: [goes]\n"}
    assert problems(files) == [
        "revenue.yaml:2:1: anything: unknown key 'anything'; expected one of collectibility, "
        "default_method, kind, modifications, obligations"
    ]


def test_unknown_keys_are_errors_at_the_key() -> None:
    assert problems(
        {
            "money.yaml": """\
            kind: money
            rounding: half_up
            roundng: half_even
            currencies:
              JPY: {rounding: down, places: 0}
            """
        }
    ) == [
        "money.yaml:3:1: roundng: unknown key 'roundng'; expected one of currencies, kind, "
        "rounding",
        "money.yaml:5:25: currencies.JPY.places: unknown key 'places'; expected one of "
        "cash_increment, rounding",
    ]


def test_wrong_types_and_values_name_what_was_expected() -> None:
    catalog = """\
    kind: catalog
    products:
      - code: basic plan
        name: Basic
    plans:
      - code: basic_monthly
        product: basic
        interval: fortnight
        interval_count: 0
        trial_days: yes
        entitlements:
          - feature: reports
            limit: 1.5
        prices:
          - currency: USD
            amount: abc
            effective_from: 2024-01-01
          - currency: USD
            amount: -5
          - currency: USD
            amount: 1e5
            effective_from: 2024-01-01 00:00:00
    """
    assert problems({"catalog.yaml": catalog}) == [
        "catalog.yaml:3:11: products[0].code: expected a code (letters, digits, '_', '-' or "
        "'.', at most 64 characters, starting with a letter or digit), got 'basic plan'",
        "catalog.yaml:8:15: plans[0].interval: expected one of day, week, month, year, "
        "got 'fortnight'",
        "catalog.yaml:9:21: plans[0].interval_count: must be at least 1, got 0",
        "catalog.yaml:10:17: plans[0].trial_days: expected a whole number, got 'yes'",
        "catalog.yaml:13:16: plans[0].entitlements[0].limit: expected a whole number, got 1.5",
        "catalog.yaml:16:17: plans[0].prices[0].amount: expected a decimal string or number, "
        "got 'abc'",
        "catalog.yaml:17:25: plans[0].prices[0].effective_from: expected a UTC instant with Z "
        "or an offset, such as 2024-01-01T00:00:00Z, got '2024-01-01'",
        "catalog.yaml:19:17: plans[0].prices[1].amount: must be at least 0, got -5",
        "catalog.yaml:21:17: plans[0].prices[2].amount: expected a decimal string or number, "
        "got '1e5'",
        "catalog.yaml:22:25: plans[0].prices[2].effective_from: expected a UTC instant with Z "
        "or an offset, such as 2024-01-01T00:00:00Z, got '2024-01-01 00:00:00'",
    ]


def test_missing_keys_are_placed_at_their_mapping() -> None:
    assert problems(
        {
            "catalog.yaml": """\
            kind: catalog
            plans:
              - code: basic_monthly
                interval: month
            """,
            "pricing.yaml": "kind: pricing\n",
        }
    ) == [
        "catalog.yaml:3:5: plans[0].prices: required key is missing",
        "catalog.yaml:3:5: plans[0].product: required key is missing",
        "pricing.yaml:1:1: prices: required key is missing",
    ]


def test_null_empty_and_both_price_and_amount() -> None:
    assert problems(
        {
            "catalog.yaml": PRODUCTS
            + dedent(
                """\
    plans:
      - code: basic_monthly
        name: ""
        product: basic
        interval: month
        prices:
          - currency: USD
            price: basic_usd
            amount: 30.00
      - code: basic_yearly
        product:
        interval: year
        prices: []
    """
            )
        }
    ) == [
        "catalog.yaml:8:11: plans[0].name: must not be empty",
        "catalog.yaml:14:9: plans[0].prices[0].amount: give either 'amount' or 'price', not both",
        "catalog.yaml:16:13: plans[1].product: expected a value, got null",
        "catalog.yaml:18:13: plans[1].prices: needs at least 1 item",
    ]


def test_values_are_normalized_decimals_utc_instants_and_defaults() -> None:
    rule_set = load(
        {
            "catalog.yaml": PRODUCTS
            + dedent(
                """\
    plans:
      - code: basic_monthly
        product: basic
        interval: month
        entitlements:
          - feature: reports
        prices:
          - currency: USD
            amount: "30.00"
            effective_from: 2024-01-01T01:00:00+01:00
          - currency: JPY
            amount: 3000
    """
            ),
            "money.yaml": "kind: money\n",
        }
    )
    assert rule_set.catalog.plans["basic_monthly"] == Plan(
        code="basic_monthly",
        product="basic",
        interval="month",
        interval_count=1,
        trial_days=0,
        entitlements=(Entitlement("reports", None),),
        prices=(
            PlanPrice(
                "USD", amount=Decimal("30.00"), effective_from=datetime(2024, 1, 1, tzinfo=UTC)
            ),
            PlanPrice("JPY", amount=Decimal(3000)),
        ),
    )
    assert rule_set.money == MoneyRules("half_up", {})
