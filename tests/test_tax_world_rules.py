"""The rates data outside Europe (rules/tax_americas.yaml, rules/tax_apac.yaml) through the
rules pipeline: every jurisdiction an engine of ADR 0030 covers is listed, every rate has a
source and an effective date, the known rate changes are there, and the tax points move
transition invoices as each country said (the core's compute_tax on the real data)."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing.app.tax import compute_tax
from billing.delivery.notice_templates import with_notice_templates
from billing.domain.tax import (
    Buyer,
    Place,
    Registration,
    Seller,
    TaxableLine,
    TaxPolicy,
    TaxRequest,
    TaxRules,
)
from billing.plugins.registry import load_engines
from billing.rules import load_rule_set

RULES = Path(__file__).parents[1] / "rules"
US_STATES = [
    "AL",
    "AK",
    "AZ",
    "AR",
    "CA",
    "CO",
    "CT",
    "DE",
    "DC",
    "FL",
    "GA",
    "HI",
    "ID",
    "IL",
    "IN",
    "IA",
    "KS",
    "KY",
    "LA",
    "ME",
    "MD",
    "MA",
    "MI",
    "MN",
    "MS",
    "MO",
    "MT",
    "NE",
    "NV",
    "NH",
    "NJ",
    "NM",
    "NY",
    "NC",
    "ND",
    "OH",
    "OK",
    "OR",
    "PA",
    "RI",
    "SC",
    "SD",
    "TN",
    "TX",
    "UT",
    "VT",
    "VA",
    "WA",
    "WV",
    "WI",
    "WY",
]
CA_PROVINCES = ["AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"]
WORLD_ENGINES = {"canada", "us_sales_tax", "india_gst", "au_gst", "nz_gst", "sg_gst", "jp_ct"}


@pytest.fixture(scope="module")
def tax() -> TaxRules:
    # The repository's rules name notice templates too (dunning.yaml).
    engines = with_notice_templates(load_engines(), RULES / "templates")
    return load_rule_set(RULES, engines.by_kind).tax


def percents(tax: TaxRules, code: str, name: str = "standard") -> list[tuple[date, Decimal]]:
    return [(r.effective_from, r.percent) for r in tax.jurisdictions[code].rates if r.name == name]


def test_every_place_of_the_world_engines_is_listed_with_sourced_rates(tax: TaxRules) -> None:
    expected = (
        {"CA", "US", "AU", "NZ", "SG", "JP", "IN"}
        | {f"US-{s}" for s in US_STATES}
        | {f"CA-{p}" for p in CA_PROVINCES}
    )
    world = {code for code, j in tax.jurisdictions.items() if j.engine in WORLD_ENGINES}
    assert world == expected
    for code in expected:
        for rate in tax.jurisdictions[code].rates:
            assert rate.source.strip(), f"{code} {rate.name} has no source"
            assert rate.entry.startswith(("tax_americas.yaml: ", "tax_apac.yaml: "))


def test_the_rate_changes_are_there(tax: TaxRules) -> None:
    assert percents(tax, "SG") == [
        (date(2007, 7, 1), Decimal(7)),
        (date(2023, 1, 1), Decimal(8)),
        (date(2024, 1, 1), Decimal(9)),
    ]
    assert percents(tax, "CA-NS")[-2:] == [(date(2010, 7, 1), 15), (date(2025, 4, 1), 14)]
    assert percents(tax, "JP")[-1] == (date(2019, 10, 1), 10)
    assert percents(tax, "JP", "reduced") == [(date(2019, 10, 1), 8)]
    assert percents(tax, "US-LA") == [(date(2018, 7, 1), Decimal("4.45")), (date(2025, 1, 1), 5)]
    assert percents(tax, "CA-QC")[-1] == (date(2013, 1, 1), Decimal("9.975"))
    assert percents(tax, "US-TX", "saas") == [(date(2020, 1, 1), 5)]
    for state in ("AK", "DE", "MT", "NH", "OR"):
        assert tax.jurisdictions[f"US-{state}"].settings == {"state_sales_tax": False}


def taxed(
    tax: TaxRules,
    seller: Seller,
    buyer: Place,
    invoice: date,
    *,
    paid: date | None = None,
    period: date | None = None,
) -> list[tuple[str, Decimal, int, date | None]]:
    rules = dataclasses.replace(tax, policy=TaxPolicy(enabled=True), seller=seller)
    request = TaxRequest(
        "SGD",
        seller,
        Buyer(buyer),
        (TaxableLine(0, 10_000, "saas", period_start=period),),
        invoice,
        payment_date=paid,
    )
    outcome = compute_tax(rules, load_engines().by_kind["tax_engine"], request)
    return [(a.tax_name, a.percent, a.tax_minor, a.tax_point) for a in outcome.amounts]


def registered(*codes: str, country: str = "US") -> Seller:
    return Seller(Place(country), tuple(Registration(c, "N", date(2017, 1, 1)) for c in codes))


def test_singapore_invoice_after_the_rise_fully_paid_before_it_is_8_percent(tax: TaxRules) -> None:
    seller = registered("SG")
    paid_early = taxed(tax, seller, Place("SG"), date(2024, 1, 5), paid=date(2023, 12, 20))
    assert paid_early == [("GST", Decimal(8), 800, date(2023, 12, 20))]
    paid_late = taxed(tax, seller, Place("SG"), date(2024, 1, 5), paid=date(2024, 1, 20))
    assert paid_late == [("GST", Decimal(9), 900, date(2024, 1, 5))]


def test_nova_scotia_invoiced_before_the_cut_is_15_percent_even_if_paid_after(
    tax: TaxRules,
) -> None:
    seller = registered("CA", country="CA")
    assert taxed(tax, seller, Place("CA", "NS"), date(2025, 3, 31), paid=date(2025, 4, 15)) == [
        ("HST", Decimal(15), 1_500, date(2025, 3, 31))
    ]


def test_japan_rate_of_the_service_period_start(tax: TaxRules) -> None:
    seller = registered("JP")
    september = taxed(tax, seller, Place("JP"), date(2019, 10, 1), period=date(2019, 9, 1))
    october = taxed(tax, seller, Place("JP"), date(2019, 10, 1), period=date(2019, 10, 1))
    assert [row[1] for row in september + october] == [Decimal(8), Decimal(10)]
