"""`kind: tax` rule files (ADR 0026): several files merge into one `TaxRules`, checked field
by field; every problem refuses the whole rule set at its file, line, column and field."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from textwrap import dedent
from typing import Any

import pytest

from billing.domain.tax import (
    NO_TAX_RULES,
    InclusiveRounding,
    Jurisdiction,
    LineRounding,
    Place,
    Registration,
    Seller,
    TaxCodeInfo,
    TaxPoint,
    TaxPolicy,
    TaxRate,
    UnknownTaxId,
)
from billing.rules import Product, RuleSet, RuleSetInvalid, json_schemas, load_rule_set_from_files
from billing.rules.model import PlanPrice

ENGINES: Mapping[str, Any] = {
    "pricing_model": {"per_unit"},
    "tax_engine": {"eu_vat", "canada", "none"},
}

TAX = """\
kind: tax
policy:
  enabled: true
  rounding: invoice
  inclusive_rounding: net_first
  prices_include_tax: true
  default_tax_code: saas
  require_tax_code: false
  unknown_tax_id: trust_format
seller:
  name: Example SAS
  country: FR
  tax_ids: [{type: eu_vat, value: FR40303265045}]
  registrations:
    - {jurisdiction: FR, number: FR40303265045, valid_from: 2020-01-01}
    - {jurisdiction: EU-OSS, number: FR40303265045, valid_from: 2021-07-01,
       valid_until: 2030-01-01}
tax_codes:
  - {code: saas, description: Software as a service}
  - {code: ebook, description: Electronic books}
"""

TAX_EU = """\
kind: tax
tax_codes:
  - {code: medical, description: Medical devices}
jurisdictions:
  - code: DE
    name: Germany
    engine: eu_vat
    tax_name: VAT
    rates:
      - {name: standard, percent: 19, effective_from: 2021-01-01, source: "UStG 12(1)"}
      - {name: standard, percent: 16, effective_from: 2020-07-01, source: "Zweites Corona-Steuerhilfegesetz"}
      - {name: reduced, percent: 7, effective_from: 2007-01-01, source: "UStG 12(2)"}
      - {name: standard, percent: 19, effective_from: 2007-01-01, source: "UStG 12(1)"}
    tax_codes: {saas: standard, ebook: reduced, medical: exempt}
    settings: {oss_threshold_eur: 10000}
  - code: FR
    name: France
    engine: eu_vat
    tax_name: TVA
    tax_point: period_start
    rates:
      - {name: standard, percent: 20, effective_from: 2014-01-01, source: "CGI art. 278"}
"""

TAX_AMERICAS = """\
kind: tax
jurisdictions:
  - code: CA-ON
    name: Ontario
    engine: canada
    tax_name: HST
    tax_point: earlier_of_invoice_and_payment
    rates:
      - {name: hst, percent: 13.0, effective_from: 2010-07-01, source: "Excise Tax Act Sch. VIII"}
    tax_codes: {saas: hst, ebook: zero_rated}
"""

CATALOG = """\
kind: catalog
products:
  - {code: basic, name: Basic, tax_code: saas}
  - {code: book, name: Book, tax_code: ebook}
  - {code: other, name: Other}
plans:
  - code: basic_monthly
    product: basic
    interval: month
    prices:
      - {currency: EUR, amount: 30.00, tax_behavior: inclusive}
      - {currency: EUR, price: seat_eur}
"""

PRICING = """\
kind: pricing
prices:
  - {code: seat_eur, model: per_unit, currency: EUR, unit_amount: 8.00, tax_behavior: exclusive}
"""


def files(**overrides: str | None) -> dict[str, bytes]:
    """The valid rule set, with files replaced (a text), or left out (None)."""
    texts: dict[str, str | None] = {
        "tax.yaml": TAX,
        "tax_eu.yaml": TAX_EU,
        "tax_americas.yaml": TAX_AMERICAS,
        "catalog.yaml": CATALOG,
        "pricing.yaml": PRICING,
    }
    texts.update({name.replace("__", "."): text for name, text in overrides.items()})
    return {name: dedent(text).encode() for name, text in texts.items() if text is not None}


def load(**overrides: str | None) -> RuleSet:
    return load_rule_set_from_files(files(**overrides), ENGINES)


def problems(engines: Mapping[str, Any] = ENGINES, **overrides: str | None) -> list[str]:
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files(files(**overrides), engines)
    return [str(error) for error in raised.value.errors]


# --- the built model ---------------------------------------------------------------------------


def test_the_tax_files_merge_into_one_model_field_by_field() -> None:
    tax = load().tax
    assert tax.policy == TaxPolicy(
        enabled=True,
        rounding=LineRounding.INVOICE,
        inclusive_rounding=InclusiveRounding.NET_FIRST,
        prices_include_tax=True,
        default_tax_code="saas",
        require_tax_code=False,
        unknown_tax_id=UnknownTaxId.TRUST_FORMAT,
    )
    assert tax.seller == Seller(
        Place("FR", ""),
        (
            Registration("FR", "FR40303265045", date(2020, 1, 1)),
            Registration("EU-OSS", "FR40303265045", date(2021, 7, 1), date(2030, 1, 1)),
        ),
        (("eu_vat", "FR40303265045"),),
    )
    assert tax.seller_name == "Example SAS"
    assert dict(tax.tax_codes) == {
        "ebook": TaxCodeInfo("ebook", "Electronic books"),
        "medical": TaxCodeInfo("medical", "Medical devices"),
        "saas": TaxCodeInfo("saas", "Software as a service"),
    }
    assert list(tax.jurisdictions) == ["CA-ON", "DE", "FR"]

    germany = tax.jurisdictions["DE"]
    assert (germany.code, germany.name, germany.engine, germany.tax_name) == (
        "DE",
        "Germany",
        "eu_vat",
        "VAT",
    )
    assert germany.tax_point is TaxPoint.INVOICE_DATE  # the default
    assert germany.entry == "tax_eu.yaml: jurisdictions[DE]"
    # Sorted by (name, effective_from); each entry names its place in the file as written.
    assert germany.rates == (
        TaxRate("reduced", Decimal(7), date(2007, 1, 1), "UStG 12(2)",
                "tax_eu.yaml: jurisdictions[DE].rates[2]"),
        TaxRate("standard", Decimal(19), date(2007, 1, 1), "UStG 12(1)",
                "tax_eu.yaml: jurisdictions[DE].rates[3]"),
        TaxRate("standard", Decimal(16), date(2020, 7, 1), "Zweites Corona-Steuerhilfegesetz",
                "tax_eu.yaml: jurisdictions[DE].rates[1]"),
        TaxRate("standard", Decimal(19), date(2021, 1, 1), "UStG 12(1)",
                "tax_eu.yaml: jurisdictions[DE].rates[0]"),
    )  # fmt: skip
    assert dict(germany.tax_codes) == {"saas": "standard", "ebook": "reduced", "medical": "exempt"}
    assert dict(germany.settings) == {"oss_threshold_eur": 10000}
    # The rate in force on a day: the latest effective_from on or before it.
    assert germany.rate_on("standard", date(2020, 6, 30)).percent == Decimal(19)
    assert germany.rate_on("standard", date(2020, 7, 1)).percent == Decimal(16)
    assert germany.rate_on("standard", date(2021, 1, 1)).percent == Decimal(19)
    assert germany.rate_on("standard", date(2006, 12, 31)) is None

    assert tax.jurisdictions["FR"] == Jurisdiction(
        code="FR",
        name="France",
        engine="eu_vat",
        tax_name="TVA",
        tax_point=TaxPoint.PERIOD_START,
        rates=(
            TaxRate(
                "standard",
                Decimal(20),
                date(2014, 1, 1),
                "CGI art. 278",
                "tax_eu.yaml: jurisdictions[FR].rates[0]",
            ),
        ),
        tax_codes={},
        settings={},
        entry="tax_eu.yaml: jurisdictions[FR]",
    )
    ontario = tax.jurisdictions["CA-ON"]
    assert ontario.tax_point is TaxPoint.EARLIER_OF_INVOICE_AND_PAYMENT
    assert ontario.rates == (
        TaxRate("hst", Decimal("13.0"), date(2010, 7, 1), "Excise Tax Act Sch. VIII",
                "tax_americas.yaml: jurisdictions[CA-ON].rates[0]"),
    )  # fmt: skip
    assert tax.jurisdiction_for(Place("CA", "ON")) is ontario
    assert tax.jurisdiction_for(Place("CA", "BC")) is None


def test_products_carry_tax_codes_and_prices_tax_behavior() -> None:
    rule_set = load()
    assert rule_set.catalog.products["basic"] == Product("basic", "Basic", (), "saas")
    assert rule_set.catalog.products["book"].tax_code == "ebook"
    assert rule_set.catalog.products["other"].tax_code is None  # the policy's default
    assert rule_set.catalog.plans["basic_monthly"].prices == (
        PlanPrice("EUR", amount=Decimal("30.00"), tax_behavior="inclusive"),
        PlanPrice("EUR", price_code="seat_eur"),
    )
    assert rule_set.prices["seat_eur"][0].tax_behavior == "exclusive"


def test_without_tax_files_tax_is_off_and_tax_codes_are_not_checked() -> None:
    rule_set = load(tax__yaml=None, tax_eu__yaml=None, tax_americas__yaml=None)
    assert rule_set.tax == NO_TAX_RULES
    assert rule_set.catalog.products["basic"].tax_code == "saas"


def test_an_empty_tax_file_is_tax_off() -> None:
    rule_set = load(tax__yaml="kind: tax\n", tax_eu__yaml=None, tax_americas__yaml=None,
                    catalog__yaml="kind: catalog\n", pricing__yaml=None)  # fmt: skip
    assert rule_set.tax.policy == TaxPolicy()
    assert rule_set.tax.seller is None
    assert dict(rule_set.tax.jurisdictions) == {}


def test_a_policy_without_its_keys_takes_the_defaults() -> None:
    tax = TAX.replace(TAX[TAX.index("policy:") : TAX.index("seller:")], "policy: {}\n")
    assert load(tax__yaml=tax).tax.policy == TaxPolicy()


# --- refused: each problem at its file, line, column and field ---------------------------------


def test_policy_and_seller_in_one_file_only() -> None:
    second = "kind: tax\npolicy: {enabled: false}\nseller: {name: Other, country: DE}\n"
    assert problems(tax_second__yaml=second) == [
        "tax_second.yaml:2:1: policy: policy is already defined in tax.yaml; the policy is in"
        " one tax file only",
        "tax_second.yaml:3:1: seller: seller is already defined in tax.yaml; the seller is in"
        " one tax file only",
    ]


def test_a_jurisdiction_and_a_tax_code_appear_once_across_all_files() -> None:
    again = """\
kind: tax
tax_codes:
  - {code: saas, description: Again}
jurisdictions:
  - {code: DE, name: Germany, engine: eu_vat, tax_name: VAT}
"""
    assert problems(tax_again__yaml=again) == [
        "tax_again.yaml:3:12: tax_codes[0].code: tax code 'saas' is already declared at"
        " tax.yaml:19",
        # Files are read in name order: tax_again.yaml defines DE first.
        "tax_eu.yaml:5:11: jurisdictions[0].code: jurisdiction 'DE' is already defined at"
        " tax_again.yaml:5",
    ]


def test_unknown_engine_names_the_registered_ones() -> None:
    assert problems(tax_americas__yaml=TAX_AMERICAS.replace("canada", "canadaa")) == [
        "tax_americas.yaml:5:13: jurisdictions[0].engine: unknown tax engine 'canadaa';"
        " registered: canada, eu_vat, none",
    ]
    assert problems({"pricing_model": {"per_unit"}}) == [
        "tax_americas.yaml:5:13: jurisdictions[0].engine: unknown tax engine 'canada';"
        " registered: none",
        "tax_eu.yaml:7:13: jurisdictions[0].engine: unknown tax engine 'eu_vat'; registered: none",
        "tax_eu.yaml:18:13: jurisdictions[1].engine: unknown tax engine 'eu_vat'; registered: none",
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("XX", "unknown country code 'XX' (ISO 3166-1 alpha-2, such as DE or CA)"),
        ("ca-on", "country codes are upper case: 'CA', not 'ca'"),
        ("CA-on", "subdivision codes are upper case: 'CA-ON', not 'CA-on'"),
        ("CA-XX", "unknown subdivision 'XX' of CA (ISO 3166-2, such as CA-ON or US-WA)"),
        ("CAN", "unknown country code 'CAN' (ISO 3166-1 alpha-2, such as DE or CA)"),
        ("EU-OSS", "unknown country code 'EU' (ISO 3166-1 alpha-2, such as DE or CA)"),
    ],
)
def test_jurisdiction_codes_are_iso_3166(code: str, message: str) -> None:
    assert problems(tax_americas__yaml=TAX_AMERICAS.replace("CA-ON", code)) == [
        f"tax_americas.yaml:3:11: jurisdictions[0].code: {message}",
    ]


def test_the_sellers_country_subdivision_and_registrations_are_checked() -> None:
    seller = """\
kind: tax
seller:
  name: Example Inc.
  country: CA
  subdivision: XX
  registrations:
    - {jurisdiction: CA-ON, number: "123456789RT0001", valid_from: 2020-01-01}
    - {jurisdiction: CA-QQ, number: "1", valid_from: 2020-01-01}
    - {jurisdiction: EU-NONUNION-OSS, number: EU372000041, valid_from: 2021-07-01,
       valid_until: 2021-07-01}
"""
    tax = (
        TAX[: TAX.index("seller:")]
        + seller[seller.index("seller:") :]
        + TAX[TAX.index("tax_codes:") :]
    )
    assert problems(tax__yaml=tax) == [
        "tax.yaml:13:16: seller.subdivision: unknown subdivision 'XX' of CA (ISO 3166-2, such"
        " as CA-ON or US-WA)",
        "tax.yaml:16:22: seller.registrations[1].jurisdiction: unknown subdivision 'QQ' of CA"
        " (ISO 3166-2, such as CA-ON or US-WA); or a scheme: EU-IOSS, EU-NONUNION-OSS, EU-OSS",
        "tax.yaml:18:21: seller.registrations[2].valid_until: valid_until 2021-07-01 must be"
        " after valid_from 2021-07-01",
    ]
    assert problems(tax__yaml=TAX.replace("country: FR", "country: France")) == [
        "tax.yaml:12:12: seller.country: unknown country code 'France' (ISO 3166-1 alpha-2,"
        " such as DE or CA)",
    ]


def test_rates_one_per_name_and_day_and_percents_below_100() -> None:
    americas = """\
kind: tax
jurisdictions:
  - code: CA-ON
    name: Ontario
    engine: canada
    tax_name: HST
    rates:
      - {name: hst, percent: 13, effective_from: 2010-07-01, source: ETA}
      - {name: hst, percent: 15, effective_from: 2010-07-01, source: ETA}
      - {name: hst, percent: 100, effective_from: 2011-07-01, source: ETA}
      - {name: hst, percent: 12.34567, effective_from: 2012-07-01, source: ETA}
"""
    assert problems(tax_americas__yaml=americas) == [
        "tax_americas.yaml:9:50: jurisdictions[0].rates[1].effective_from: rate 'hst' already"
        " has an entry effective from 2010-07-01 (rates[0])",
        "tax_americas.yaml:10:30: jurisdictions[0].rates[2].percent: must be below 100, got 100",
        "tax_americas.yaml:11:30: jurisdictions[0].rates[3].percent: 12.34567 has more than 4"
        " decimal places",
    ]


def test_percents_out_of_bounds_are_refused_by_the_shape() -> None:
    for percent, message in (("-1", "must be at least 0, got -1"),
                             ("101", "must be at most 100, got 101")):  # fmt: skip
        americas = TAX_AMERICAS.replace("percent: 13.0", f"percent: {percent}")
        assert problems(tax_americas__yaml=americas) == [
            f"tax_americas.yaml:9:30: jurisdictions[0].rates[0].percent: {message}",
        ]


def test_a_tax_code_means_a_rate_of_the_jurisdiction_or_a_treatment() -> None:
    meanings = "{saas: hst, ebook: reduced, medical: exempt, books: zero_rated}"
    americas = TAX_AMERICAS.replace("{saas: hst, ebook: zero_rated}", meanings)
    assert problems(tax_americas__yaml=americas) == [
        "tax_americas.yaml:10:35: jurisdictions[0].tax_codes.ebook: 'reduced' is neither a rate"
        " name of CA-ON (hst) nor a treatment (exempt, zero_rated, out_of_scope)",
        "tax_americas.yaml:10:61: jurisdictions[0].tax_codes.books: the tax code 'books' is not"
        " declared under tax_codes (declared: ebook, medical, saas)",
    ]


def test_products_name_declared_tax_codes_and_carry_one_when_required() -> None:
    catalog = CATALOG.replace("tax_code: ebook", "tax_code: e_book")
    tax = TAX.replace("require_tax_code: false", "require_tax_code: true")
    assert problems(catalog__yaml=catalog, tax__yaml=tax) == [
        "catalog.yaml:4:40: products[1].tax_code: the tax code 'e_book' is not declared under"
        " tax_codes (declared: ebook, medical, saas)",
        "catalog.yaml:5:5: products[2]: product 'other' has no tax_code, and the tax policy"
        " requires one (tax.yaml:8)",
    ]


def test_the_default_tax_code_is_declared() -> None:
    tax = TAX.replace("default_tax_code: saas", "default_tax_code: software")
    assert problems(tax__yaml=tax) == [
        "tax.yaml:7:21: policy.default_tax_code: the default tax code 'software' is not"
        " declared under tax_codes (declared: ebook, medical, saas)",
    ]


def test_the_shape_is_checked_with_the_words_of_the_other_kinds() -> None:
    broken = """\
kind: tax
jurisdictions:
  - code: DE
    name: Germany
    engine: eu_vat
    tax_name: VAT
    tax_point: delivery_date
    rates:
      - {name: standard, percent: 19, effective_from: 2021-02-30, source: "UStG"}
      - {name: standard, percent: 19, effective_from: "2021-01-01T00:00:00Z"}
    colour: blue
"""
    assert problems(tax_eu__yaml=broken) == [
        "tax_eu.yaml:7:16: jurisdictions[0].tax_point: expected one of invoice_date,"
        " period_start, earlier_of_invoice_and_payment, got 'delivery_date'",
        "tax_eu.yaml:9:55: jurisdictions[0].rates[0].effective_from: expected a date such as"
        " 2024-01-01, got '2021-02-30'",
        "tax_eu.yaml:10:9: jurisdictions[0].rates[1].source: required key is missing",
        "tax_eu.yaml:10:55: jurisdictions[0].rates[1].effective_from: expected a date such as"
        " 2024-01-01, got '2021-01-01T00:00:00Z'",
        "tax_eu.yaml:11:5: jurisdictions[0].colour: unknown key 'colour'; expected one of code,"
        " engine, name, rates, settings, tax_codes, tax_name, tax_point",
    ]


def test_tax_behavior_is_inclusive_or_exclusive() -> None:
    catalog = CATALOG.replace("tax_behavior: inclusive", "tax_behavior: included")
    assert problems(catalog__yaml=catalog) == [
        "catalog.yaml:11:54: plans[0].prices[0].tax_behavior: expected one of inclusive,"
        " exclusive, got 'included'",
    ]


class _CheckedEngine:
    def determine(self, request: object, rules: object) -> list[object]:
        return []

    def check_settings(self, settings: Mapping[str, Any]) -> list[str]:
        if not isinstance(settings.get("oss_threshold_eur"), int):
            return ["settings.oss_threshold_eur must be a whole number of euros"]
        return []


def test_an_engine_checks_its_own_settings_at_load() -> None:
    engines = {**ENGINES, "tax_engine": {"eu_vat": _CheckedEngine(), "canada": object()}}
    eu = TAX_EU.replace("{oss_threshold_eur: 10000}", "{oss_threshold_eur: ten}")
    assert problems(engines, tax_eu__yaml=eu) == [
        "tax_eu.yaml:15:15: jurisdictions[0].settings: settings.oss_threshold_eur must be a"
        " whole number of euros",
        # FR has no settings; the engine refuses that too, at the jurisdiction's settings.
        "tax_eu.yaml:16:5: jurisdictions[1].settings: settings.oss_threshold_eur must be a"
        " whole number of euros",
    ]


def test_the_json_schema_for_editors_describes_tax_files() -> None:
    schemas = json_schemas()
    tax = schemas["tax"]
    assert tax["additionalProperties"] is False
    assert sorted(tax["properties"]) == ["jurisdictions", "kind", "policy", "seller", "tax_codes"]
    policy = tax["properties"]["policy"]["properties"]
    assert policy["rounding"]["enum"] == ["line", "invoice"]
    assert policy["rounding"]["default"] == "line"
    assert policy["enabled"]["default"] is False
    registration = tax["properties"]["seller"]["properties"]["registrations"]["items"]
    assert registration["required"] == ["jurisdiction", "number", "valid_from"]
    assert registration["properties"]["valid_until"]["format"] == "date"
    jurisdiction = tax["properties"]["jurisdictions"]["items"]
    assert jurisdiction["required"] == ["code", "name", "engine", "tax_name"]
    assert jurisdiction["properties"]["tax_point"]["enum"] == [
        "invoice_date",
        "period_start",
        "earlier_of_invoice_and_payment",
    ]
    rate = jurisdiction["properties"]["rates"]["items"]
    assert rate["required"] == ["name", "percent", "effective_from", "source"]
    assert rate["properties"]["effective_from"] == {
        "description": rate["properties"]["effective_from"]["description"],
        "type": "string",
        "format": "date",
        "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
    }
    assert rate["properties"]["percent"]["anyOf"][0] == {
        "type": "number",
        "minimum": 0,
        "maximum": 100,
    }
    assert jurisdiction["properties"]["settings"]["type"] == "object"
    catalog, pricing = schemas["catalog"], schemas["pricing"]
    product = catalog["properties"]["products"]["items"]["properties"]
    assert product["tax_code"]["pattern"]
    plan_price = catalog["properties"]["plans"]["items"]["properties"]["prices"]["items"]
    price = pricing["properties"]["prices"]["items"]
    for entry in (plan_price, price):
        assert entry["properties"]["tax_behavior"]["enum"] == ["inclusive", "exclusive"]


def test_one_typo_gives_one_error() -> None:
    # A policy value the shape refuses is not read again by the meaning pass.
    tax = TAX.replace("require_tax_code: false", "require_tax_code: yes")
    assert problems(tax__yaml=tax) == [
        "tax.yaml:8:21: policy.require_tax_code: expected true or false, got 'yes'",
    ]
