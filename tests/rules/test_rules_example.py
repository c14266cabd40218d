"""The example rule set in rules/ loads cleanly and says what finance wrote."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rule_files import EXAMPLE_RULES, REPO_ENGINES

from billing.rules import (
    Entitlement,
    MoneyRules,
    PlanChangeFacts,
    PlanChangeRule,
    PlanPrice,
    Price,
    ProrationRule,
    Tier,
    load_rule_set,
)

JAN_2024 = datetime(2024, 1, 1, tzinfo=UTC)


def test_the_example_rules_load_cleanly() -> None:
    rule_set = load_rule_set(EXAMPLE_RULES, REPO_ENGINES)
    assert rule_set.warnings == ()
    # tax.yaml holds the policy and the seller; jurisdictions are in tax_*.yaml files.
    assert [name for name in rule_set.files if not name.startswith("tax_")] == [
        "catalog.yaml",
        "dunning.yaml",
        "invoicing.yaml",
        "ledger.yaml",
        "metering.yaml",
        "money.yaml",
        "payments.yaml",
        "pricing.yaml",
        "proration.yaml",
        "recognition.yaml",
        "routing.yaml",
        "tax.yaml",
    ]
    assert len(rule_set.content_hash) == 64
    assert rule_set.money == MoneyRules("half_up", {})


def test_the_example_catalog() -> None:
    catalog = load_rule_set(EXAMPLE_RULES, REPO_ENGINES).catalog
    assert {code: product.name for code, product in catalog.products.items()} == {
        "basic": "Basic",
        "pro": "Pro",
    }
    basic, pro = catalog.plans["basic_monthly"], catalog.plans["pro_monthly"]
    assert (basic.interval, basic.interval_count, basic.trial_days) == ("month", 1, 14)
    assert basic.prices == (
        PlanPrice("USD", amount=Decimal("30.00"), effective_from=JAN_2024),
        PlanPrice("EUR", amount=Decimal("28.00"), effective_from=JAN_2024),
    )
    assert pro.prices == (
        PlanPrice("USD", amount=Decimal("50.00"), effective_from=JAN_2024),
        PlanPrice("USD", price_code="pro_seat_usd"),
        PlanPrice("USD", price_code="api_calls_usd"),
        PlanPrice("EUR", amount=Decimal("46.00"), effective_from=JAN_2024),
        PlanPrice("EUR", price_code="pro_seat_eur"),
    )
    assert pro.entitlements[-1] == Entitlement("seats", 50)


def test_the_example_prices() -> None:
    rule_set = load_rule_set(EXAMPLE_RULES, REPO_ENGINES)
    assert rule_set.price_in_force("pro_seat_usd", JAN_2024) == Price(
        code="pro_seat_usd",
        model="per_unit",
        currency="USD",
        name="Pro seat",
        unit="seat",
        unit_amount=Decimal("10.00"),
    )
    calls = rule_set.price_in_force("api_calls_usd", JAN_2024)
    assert calls is not None
    assert calls.model == "graduated"
    assert calls.tiers == (Tier(100, Decimal("1.00")), Tier(None, Decimal("0.50")))


def test_the_example_policies_decide_by_first_matching_case() -> None:
    rule_set = load_rule_set(EXAMPLE_RULES, REPO_ENGINES)
    upgrade = PlanChangeFacts("basic", "pro", "month", "month")
    downgrade = PlanChangeFacts("pro", "basic", "month", "month")
    to_yearly = PlanChangeFacts("pro", "pro", "month", "year")
    changes = rule_set.catalog.plan_changes
    assert changes.decide(upgrade) == PlanChangeRule("immediate")
    assert changes.decide(downgrade) == PlanChangeRule("end_of_period")
    assert changes.decide(to_yearly) == PlanChangeRule("immediate")
    assert rule_set.proration.decide(downgrade) == ProrationRule("day", "none", False, "billed")
    assert rule_set.proration.decide(upgrade) == ProrationRule(
        "second", "create_prorations", True, "billed"
    )


def test_the_example_recognition_and_chart() -> None:
    rule_set = load_rule_set(EXAMPLE_RULES, REPO_ENGINES)
    recognition = rule_set.recognition
    assert recognition.default_method == "ratable"
    pro = recognition.by_plan["pro_monthly"]
    assert (pro.method, dict(pro.ssp)) == (
        "ratable",
        {"USD": Decimal("50.00"), "EUR": Decimal("46.00")},
    )
    assert recognition.by_price["api_calls_usd"].method == "usage"
    assert rule_set.ledger.reporting_currency == ""
    assert {a.code for a in rule_set.ledger.chart} >= {"1200", "2400", "4000"}
