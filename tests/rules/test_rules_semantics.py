"""The meaning pass: references, uniqueness, tiers, currencies, engines; all errors at once."""

from __future__ import annotations

import pytest
from rule_files import BUILTIN_ENGINES, FIXTURES, load, problems

from billing.rules import RuleError, RuleSetInvalid, RuleWarning, load_rule_set

CATALOG = """\
kind: catalog
products:
  - code: basic
    name: Basic
    features: [reports]
  - code: pro
    name: Pro
    features: [reports, seats]
plans:
  - code: basic_monthly
    product: basic
    interval: month
    prices:
      - currency: USD
        amount: 30.00
"""

SEATS = """\
kind: pricing
prices:
  - code: seat_usd
    model: per_unit
    currency: USD
    unit_amount: 10.00
"""


def test_a_broken_rule_set_reports_every_error_with_file_line_and_path() -> None:
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set(FIXTURES / "broken", BUILTIN_ENGINES)
    found = [(e.file, e.line, e.column, e.path_text, e.message) for e in raised.value.errors]
    assert found == [
        # wrong type
        (
            "catalog.yaml", 12, 17, "plans[0].prices[0].amount",
            "expected a decimal string or number, got 'abc'",
        ),
        # dangling plan reference
        ("catalog.yaml", 14, 14, "plans[1].product", "unknown product 'pro'"),
        # YAML syntax error
        (
            "money.yaml", 4, 1, "",
            "YAML syntax error: while parsing a flow sequence (line 3, column 11), "
            "expected ',' or ']', but got '<stream end>'",
        ),
        # unknown engine name
        (
            "pricing.yaml", 8, 12, "prices[1].model",
            "unknown pricing model 'tiered'; registered: graduated, per_unit, volume",
        ),
        # tiers out of order
        (
            "pricing.yaml", 18, 17, "prices[2].tiers[1].up_to",
            "tiers must ascend: up_to 50 is not above 100",
        ),
        # unknown key
        (
            "pricing.yaml", 23, 5, "prices[3].colour",
            "unknown key 'colour'; expected one of code, currency, effective_from, fixed_fee, "
            "flat_fee_at_zero, free_units, free_units_per_events, free_units_per_total_aggregation, "
            "max_per_transaction, metric, min_per_transaction, model, name, package_amount, "
            "package_size, params, percentage_tiers, prorated, rate, tax_behavior, tiers, unit, unit_amount",
        ),
    ]  # fmt: skip
    # pro_monthly also uses minutes_usd, which has the unknown key: that is one error, not two.
    assert all("minutes_usd" not in error.message for error in raised.value.errors)


def test_references_resolve() -> None:
    catalog = (
        CATALOG
        + """\
  - code: pro_monthly
    product: enterprise
    interval: month
    entitlements:
      - feature: seats
    prices:
      - currency: USD
        price: seat_usd
      - currency: EUR
        price: seat_usd
      - currency: USD
        price: storage_usd
      - currency: USD
  - code: basic_yearly
    product: basic
    interval: year
    entitlements:
      - feature: seats
      - feature: reports
      - feature: reports
    prices:
      - currency: USD
        amount: 300.00
"""
    )
    assert problems({"catalog.yaml": catalog, "pricing.yaml": SEATS}) == [
        "catalog.yaml:17:14: plans[1].product: unknown product 'enterprise'",
        "catalog.yaml:25:16: plans[1].prices[1].price: price 'seat_usd' is in USD "
        "(pricing.yaml:3), not EUR",
        "catalog.yaml:27:16: plans[1].prices[2].price: unknown price 'storage_usd'",
        "catalog.yaml:28:9: plans[1].prices[3]: give a price (a code from a pricing file) or "
        "an amount",
        "catalog.yaml:33:18: plans[2].entitlements[0].feature: product 'basic' has no feature "
        "'seats' (its features are listed at catalog.yaml:3)",
        "catalog.yaml:35:9: plans[2].entitlements[2]: feature 'reports' is listed twice",
    ]


def test_codes_are_unique_across_files() -> None:
    more = """\
    kind: catalog
    products:
      - code: basic
        name: Basic again
        features: [reports, reports]
    plans:
      - code: basic_monthly
        product: basic
        interval: month
        prices:
          - currency: USD
            amount: 31.00
    """
    assert problems({"a.yaml": CATALOG, "b.yaml": more}) == [
        "b.yaml:3:11: products[0].code: product 'basic' is already defined at a.yaml:3",
        "b.yaml:5:25: products[0].features[1]: feature 'reports' is listed twice",
        "b.yaml:7:11: plans[0].code: plan 'basic_monthly' is already defined at a.yaml:10",
    ]


def test_currencies_are_iso_4217_and_flat_amounts_fit_the_minor_unit() -> None:
    catalog = (
        CATALOG
        + """\
      - currency: usd
        amount: 30.00
      - currency: JPY
        amount: 3000.5
      - currency: EUR
        amount: 28.001
      - currency: BHD
        amount: 10.125
"""
    )
    money = """\
    kind: money
    currencies:
      XYZ: {rounding: down}
      EUR: {rounding: half_even}
    """
    assert problems({"catalog.yaml": catalog, "money.yaml": money}) == [
        "catalog.yaml:16:19: plans[0].prices[1].currency: 'usd' is not an ISO 4217 currency code",
        "catalog.yaml:19:17: plans[0].prices[2].amount: 3000.5 has more decimal places than JPY "
        "allows (0)",
        "catalog.yaml:21:17: plans[0].prices[3].amount: 28.001 has more decimal places than EUR "
        "allows (2)",
        "money.yaml:3:3: currencies.XYZ: 'XYZ' is not an ISO 4217 currency code",
    ]


def test_tiers_ascend_and_only_the_last_is_unbounded() -> None:
    pricing = """\
    kind: pricing
    prices:
      - code: calls
        model: graduated
        currency: USD
        tiers:
          - {up_to: 100, unit_amount: 1.00}
          - {up_to: null, unit_amount: 0.75}
          - {up_to: 100, unit_amount: 0.50}
          - {up_to: 1000, unit_amount: 0.25, flat_amount: 0.001}
      - code: storage
        model: volume
        currency: USD
        tiers:
          - {up_to: 10, unit_amount: 0.0000000000001}
    """
    assert problems({"pricing.yaml": pricing}) == [
        "pricing.yaml:8:17: prices[0].tiers[1].up_to: only the last tier may be unbounded "
        "(up_to: null)",
        "pricing.yaml:9:17: prices[0].tiers[2].up_to: tiers must ascend: up_to 100 is not "
        "above 100",
        "pricing.yaml:10:17: prices[0].tiers[3].up_to: the last tier must have up_to: null, so "
        "quantities above 1000 have a price",
        "pricing.yaml:10:55: prices[0].tiers[3].flat_amount: 0.001 has more decimal places than "
        "USD allows (2)",
        "pricing.yaml:15:17: prices[1].tiers[0].up_to: the last tier must have up_to: null, so "
        "quantities above 10 have a price",
        "pricing.yaml:15:34: prices[1].tiers[0].unit_amount: more than 12 decimal places",
    ]


def test_models_are_registered_engines_with_the_parameters_they_read() -> None:
    pricing = """\
    kind: pricing
    prices:
      - code: a
        model: per_unit
        currency: USD
        tiers:
          - {up_to: null, unit_amount: 1}
      - code: b
        model: graduated
        currency: USD
        unit_amount: 1
      - code: c
        model: per_block
        currency: USD
        unit_amount: 5
    """
    assert problems({"pricing.yaml": pricing}) == [
        "pricing.yaml:3:5: prices[0]: model per_unit needs unit_amount",
        "pricing.yaml:6:5: prices[0].tiers: model per_unit does not read tiers",
        "pricing.yaml:8:5: prices[1]: model graduated needs tiers",
        "pricing.yaml:11:5: prices[1].unit_amount: model graduated does not read unit_amount",
        "pricing.yaml:13:12: prices[2].model: unknown pricing model 'per_block'; registered: "
        "graduated, per_unit, volume",
    ]
    # A plugin's model is accepted once registered; its parameters are the plugin's business.
    plugins = {"pricing_model": {"per_unit", "graduated", "volume", "per_block"}}
    accepted = pricing.replace("model: per_unit", "model: per_block").replace(
        "model: graduated", "model: per_block"
    )
    assert load({"pricing.yaml": accepted}, plugins).prices["c"][0].model == "per_block"
    assert problems({"pricing.yaml": SEATS}, {}) == [
        "pricing.yaml:4:12: prices[0].model: unknown pricing model 'per_unit'; registered: none"
    ]


def test_versions_of_a_price_start_at_distinct_instants_in_one_currency() -> None:
    pricing = (
        SEATS
        + """\
  - code: seat_usd
    model: per_unit
    currency: USD
    unit_amount: 11.00
  - code: seat_usd
    model: per_unit
    currency: USD
    unit_amount: 12.00
    effective_from: 2025-01-01T00:00:00Z
  - code: seat_usd
    model: per_unit
    currency: EUR
    unit_amount: 12.00
    effective_from: 2025-01-01T01:00:00+01:00
"""
    )
    assert problems({"pricing.yaml": pricing}) == [
        "pricing.yaml:7:5: prices[1]: price 'seat_usd' already has a version without "
        "effective_from at pricing.yaml:3",
        "pricing.yaml:18:15: prices[3].currency: price 'seat_usd' is in USD at pricing.yaml:3; "
        "all versions of a price share one currency",
        "pricing.yaml:20:21: prices[3].effective_from: price 'seat_usd' already has a version "
        "effective from 2025-01-01T00:00:00Z at pricing.yaml:11",
    ]


def test_plan_prices_are_not_repeated() -> None:
    catalog = (
        CATALOG
        + """\
      - currency: USD
        amount: 35.00
"""
    )
    assert problems({"catalog.yaml": catalog}) == [
        "catalog.yaml:16:9: plans[0].prices[1]: same currency, price and effective_from as "
        "plans[0].prices[0]"
    ]


def test_a_case_after_a_case_that_covers_it_is_a_warning() -> None:
    catalog = (
        CATALOG
        + """\
plan_changes:
  - when: {from_product: basic, to_product: pro}
    timing: immediate
  - when: {from_product: basic}
    timing: end_of_period
  - when: {from_product: basic, to_product: pro, to_interval: year}
    timing: end_of_period
  - timing: immediate
  - when: {to_interval: month}
    timing: end_of_period
"""
    )
    rule_set = load({"catalog.yaml": catalog})
    assert rule_set.warnings == (
        RuleWarning(
            "catalog.yaml", 21, 5, ("plan_changes", 2),
            "this case can never match: plan_changes[0] (line 17) comes first and matches "
            "every change this one matches",
        ),
        RuleWarning(
            "catalog.yaml", 24, 5, ("plan_changes", 4),
            "this case can never match: plan_changes[3] (line 23) comes first and matches "
            "every change this one matches",
        ),
    )  # fmt: skip


def test_cases_without_a_catch_all_are_a_warning_and_match_fields_must_resolve() -> None:
    proration = """\
    kind: proration
    cases:
      - when: {from_product: pro, to_product: gold}
        granularity: day
        behavior: none
        credit_unused: false
        credit_basis: billed
    """
    with pytest.raises(RuleSetInvalid) as raised:
        load({"catalog.yaml": CATALOG, "proration.yaml": proration})
    assert raised.value.errors == (
        RuleError(
            "proration.yaml", 3, 43, ("cases", 0, "when", "to_product"), "unknown product 'gold'"
        ),
    )
    assert raised.value.warnings == (
        RuleWarning(
            "proration.yaml", 3, 3, ("cases",),
            "no case matches every change (a case without when); a change that no case "
            "matches has no policy",
        ),
    )  # fmt: skip


def test_one_file_per_single_policy() -> None:
    changes = "plan_changes:\n  - timing: immediate\n"
    second = "kind: catalog\nplan_changes:\n  - timing: end_of_period\n"
    assert problems(
        {
            "a.yaml": CATALOG + changes,
            "b.yaml": second,
            "money.yaml": "kind: money\n",
            "money2.yaml": "kind: money\nrounding: half_even\n",
        }
    ) == [
        "b.yaml:2:1: plan_changes: plan_changes is already defined in a.yaml; keep the cases "
        "in one file so their order is clear",
        "money2.yaml:1:7: kind: only one money file is allowed; money.yaml already holds the "
        "money rules",
    ]


def test_a_reference_into_an_unreadable_file_says_it_may_be_defined_there() -> None:
    plans = """\
    kind: catalog
    plans:
      - code: basic_monthly
        product: basic
        interval: month
        prices:
          - currency: USD
            amount: 30.00
    """
    found = problems(
        {
            "plans.yaml": plans,
            "products.yaml": "kind: catalog\nproducts: [\n",
            # Unreadable too, but a money file cannot define products: not named below.
            "money.yaml": "kind: money\nrounding: [\n",
        }
    )
    assert [problem.split(": ", 1)[0] for problem in found] == [
        "money.yaml:3:1",
        "plans.yaml:4:14",
        "products.yaml:3:1",
    ]
    assert found[1] == (
        "plans.yaml:4:14: plans[0].product: unknown product 'basic' (products.yaml is "
        "unreadable and may define it)"
    )


def test_a_recognition_method_is_built_in_or_registered_by_a_plugin() -> None:
    catalog = "kind: catalog\nproducts:\n  - {code: basic, name: Basic}\n"
    recognition = """\
    kind: recognition
    default_method: ratable_monthly
    obligations:
      - {product: basic, method: milestone}
    """
    engines = {**BUILTIN_ENGINES, "recognition_method": {"ratable_monthly"}}
    files = {"catalog.yaml": catalog, "recognition.yaml": recognition}
    assert problems(files, engines) == [
        "recognition.yaml:4:30: obligations[0].method: unknown recognition method 'milestone';"
        " expected one of point_in_time, ratable, ratable_monthly, usage"
    ]
