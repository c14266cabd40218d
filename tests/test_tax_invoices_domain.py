"""domain/tax_lines.py: the shared representation of tax on invoice lines (ADR 0032)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

from billing.domain.subscriptions import Line, LineKind, exact_line, settle
from billing.domain.tax import TaxableLine, TaxAmount, TaxOutcome, TaxPolicy, Treatment
from billing.domain.tax_calc import split_amount
from billing.domain.tax_lines import (
    LineTaxClass,
    amount_from_derivation,
    amount_of,
    amount_to_derivation,
    amount_to_line,
    apply_outcome,
    as_priced,
    discount_allocation,
    explanation_steps,
    summary,
    taxable_lines,
    with_change_plans,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
END = datetime(2026, 4, 1, tzinfo=UTC)
PERIOD = (START, END)


def line(amount: int, kind: LineKind = LineKind.RECURRING, price: str | None = None) -> Line:
    return exact_line(f"{kind.value} {amount}", amount, "EUR", PERIOD, kind, {"rule_entry": "x"})


def day(instant: datetime) -> date:
    return instant.date()


VAT = TaxAmount(
    jurisdiction="DE",
    tax_name="VAT",
    treatment=Treatment.TAXED,
    rate_name="standard",
    percent=Decimal("19"),
    taxable_minor=10000,
    tax_minor=1900,
    line_indexes=(0, 2),
    entry="tax_eu.yaml: jurisdictions[DE].rates[2]",
    source="UStG §12(1)",
    tax_point=date(2026, 3, 1),
)


def test_a_tax_amount_survives_the_derivation_both_ways() -> None:
    data = amount_to_derivation(VAT)
    assert data == {
        "jurisdiction": "DE",
        "tax_name": "VAT",
        "treatment": "taxed",
        "rate_name": "standard",
        "percent": "19",
        "taxable_minor": 10000,
        "tax_minor": 1900,
        "line_indexes": [0, 2],
        "note": "",
        "entry": "tax_eu.yaml: jurisdictions[DE].rates[2]",
        "source": "UStG §12(1)",
        "tax_point": "2026-03-01",
    }
    assert amount_from_derivation(data) == VAT
    tax_line = amount_to_line(VAT, "EUR", PERIOD, seller_tax_ids=["eu_vat FR40303265045"])
    assert tax_line.kind == LineKind.TAX
    assert tax_line.amount_minor == 1900
    assert tax_line.description == "VAT 19% (DE)"
    assert amount_of(tax_line) == VAT


def test_split_amount_is_largest_remainder_and_exact() -> None:
    assert split_amount(100, [1, 1, 1]) == (34, 33, 33)
    assert split_amount(-100, [1, 1, 1]) == (-34, -33, -33)
    assert split_amount(-1000, [3000, 1000]) == (-750, -250)
    assert sum(split_amount(-999, [7, 11, 13, 17])) == -999


def test_a_discount_is_shared_over_the_lines_it_discounts_before_it() -> None:
    lines = [
        line(3000),
        line(1000, LineKind.USAGE),
        line(-1000, LineKind.DISCOUNT),
        line(500),  # a second subscription's line on a shared invoice, after the discount
        line(-200, LineKind.PRORATION_CREDIT),
    ]
    assert discount_allocation(lines) == (-750, -250, 0, 0, 0)


def test_taxable_lines_take_the_catalog_else_the_policy() -> None:
    lines = [line(3000), line(1000, LineKind.ONE_OFF), line(-1000, LineKind.DISCOUNT)]
    policy = TaxPolicy(enabled=True, default_tax_code="saas", prices_include_tax=True)

    def classify(item: Line) -> LineTaxClass:
        if item.kind == LineKind.RECURRING:
            return LineTaxClass("ebook", False)
        return LineTaxClass()

    assert taxable_lines(lines, classify, policy, day) == (
        TaxableLine(0, 2250, "ebook", False, date(2026, 3, 1), date(2026, 4, 1)),
        TaxableLine(1, 750, "saas", True, date(2026, 3, 1), date(2026, 4, 1)),
    )


def test_inclusive_lines_are_stored_net_and_the_total_is_net_plus_tax() -> None:
    lines = [line(11900), line(1000)]
    taxable = (TaxableLine(0, 11900, "saas", True), TaxableLine(1, 1000, "saas", False))
    amount = TaxAmount("DE", "VAT", Treatment.TAXED, "standard", Decimal(19), 11000, 2090, (0, 1))
    outcome = TaxOutcome((10000, 1000), (1900, 190), (amount,))
    taxed = apply_outcome(lines, taxable, outcome, "EUR", PERIOD)
    assert [(t.kind, t.amount_minor) for t in taxed] == [
        (LineKind.RECURRING, 10000),
        (LineKind.RECURRING, 1000),
        (LineKind.TAX, 2090),
    ]
    assert taxed[0].derivation is not None
    assert taxed[0].derivation["gross_minor"] == 11900
    assert settle(taxed, 0).total_minor == 13090 == 11900 + 1000 + 190
    shown = summary(taxed)
    assert (shown.subtotal_minor, shown.tax_minor) == (11000, 2090)
    assert shown.amounts == (amount,)
    assert [t.amount_minor for t in as_priced(taxed)] == [11900, 1000]


def test_an_outcome_without_amounts_changes_nothing() -> None:
    lines = (line(1000),)
    outcome = TaxOutcome((1000,), (0,), ())
    assert apply_outcome(lines, (TaxableLine(0, 1000, "saas"),), outcome, "EUR", PERIOD) == lines
    assert summary(lines).tax_minor == 0
    assert summary(lines).subtotal_minor == 1000


def test_a_plan_changes_lines_name_the_plan_each_bills() -> None:
    lines = [
        line(-500, LineKind.PRORATION_CREDIT),
        line(1500, LineKind.PRORATION_CHARGE),
        line(100, LineKind.REPAIR),
    ]
    named = with_change_plans(lines, "old", "new")
    assert [(n.derivation or {}).get("plan") for n in named] == ["old", "new", "old"]
    assert [n.amount_minor for n in named] == [-500, 1500, 100]


def test_explanations_of_tax_and_inclusive_lines() -> None:
    tax_line = amount_to_line(VAT, "EUR", PERIOD)
    assert explanation_steps(tax_line, "EUR") == (
        "taxed: VAT standard 19% in DE",
        "rate source: UStG §12(1)",
        "tax point: 2026-03-01",
        "taxable: 100.00 EUR (lines 0, 2)",
    )
    inclusive = exact_line("App", 10000, "EUR", PERIOD, LineKind.RECURRING, {})
    inclusive = replace(inclusive, derivation={"gross_minor": 11900, "tax_minor": 1900})
    assert explanation_steps(inclusive, "EUR") == (
        "price includes tax: 119.00 EUR = net 100.00 EUR + tax 19.00 EUR",
    )
    assert explanation_steps(line(1000), "EUR") == ()
