"""A third-party jurisdiction plugin (plugins/example-tax) adds Iceland without touching the
core: installed as a package, found through its entry point, named by a rule set that then
loads, while a rule set naming an engine no plugin registered is refused at file:line."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from billing.domain.tax import (
    Buyer,
    CustomerType,
    LineTax,
    Place,
    Registration,
    Seller,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxRequest,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.registry import Engines, load_engines
from billing.rules import RuleSetInvalid, content_hash, load_rule_set_from_files

ROOT = Path(__file__).parents[1]

ICELAND = """\
kind: tax
policy: {enabled: true}
seller:
  name: Dæmi ehf.
  country: IS
  registrations:
    - {jurisdiction: IS, number: "123456", valid_from: 2020-01-01, valid_until: 2026-01-01}
tax_codes:
  - {code: saas, description: Software as a service}
  - {code: ebook, description: Electronic books}
  - {code: training, description: Training}
jurisdictions:
  - code: IS
    name: Iceland
    engine: example_iceland_vat
    tax_name: VAT
    rates:
      - {name: standard, percent: 25.5, effective_from: 2010-01-01,
         source: "Act No. 50/1988 on Value Added Tax, art. 14(1), as amended by Act No. 130/2009"}
      - {name: standard, percent: 24, effective_from: 2015-01-01,
         source: "Act No. 50/1988 on Value Added Tax, art. 14(1), as amended by Act No. 124/2014"}
      - {name: reduced, percent: 11, effective_from: 2015-01-01,
         source: "Act No. 50/1988 on Value Added Tax, art. 14(2), as amended by Act No. 124/2014"}
    tax_codes: {saas: standard, ebook: reduced, training: exempt}
    settings: {reverse_charge_b2b: true}
"""


@pytest.fixture(scope="module")
def engines() -> Engines:
    return load_engines()


def test_the_plugin_is_installed_not_imported_from_the_source_tree(engines: Engines) -> None:
    import billing_example_tax

    location = Path(billing_example_tax.__file__).resolve()
    assert "site-packages" in location.parts
    assert ROOT / "plugins" not in location.parents
    assert "example_tax" in engines.plugin_names
    assert "example_iceland_vat" in engines.names()["tax_engine"]


def test_a_rule_set_naming_the_plugins_engine_loads(engines: Engines) -> None:
    rules = load_rule_set_from_files({"tax.yaml": ICELAND.encode()}, engines.by_kind).tax
    iceland = rules.jurisdictions["IS"]
    assert iceland.engine == "example_iceland_vat"
    assert [(r.name, r.percent, r.effective_from) for r in iceland.rates] == [
        ("reduced", Decimal(11), date(2015, 1, 1)),
        ("standard", Decimal("25.5"), date(2010, 1, 1)),
        ("standard", Decimal(24), date(2015, 1, 1)),
    ]
    assert iceland.rate_on("standard", date(2014, 12, 31)).entry == (
        "tax.yaml: jurisdictions[IS].rates[0]"
    )


def test_a_rule_set_naming_an_unregistered_engine_is_refused_at_file_and_line(
    engines: Engines,
) -> None:
    text = ICELAND.replace("example_iceland_vat", "example_greenland_vat")
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files({"tax_nordic.yaml": text.encode()}, engines.by_kind)
    [error] = raised.value.errors
    registered = ", ".join(sorted(engines.names()["tax_engine"]))
    assert str(error) == (
        "tax_nordic.yaml:15:13: jurisdictions[0].engine: unknown tax engine"
        f" 'example_greenland_vat'; registered: {registered}"
    )


def test_the_engine_checks_its_settings_at_load(engines: Engines) -> None:
    text = ICELAND.replace("{reverse_charge_b2b: true}", "{reverse_charge_b2b: yes, oss: 1}")
    with pytest.raises(RuleSetInvalid) as raised:
        load_rule_set_from_files({"tax.yaml": text.encode()}, engines.by_kind)
    assert [str(error) for error in raised.value.errors] == [
        "tax.yaml:25:15: jurisdictions[0].settings: settings.oss is not a setting of"
        " example_iceland_vat (it reads: reverse_charge_b2b)",
        "tax.yaml:25:15: jurisdictions[0].settings: settings.reverse_charge_b2b must be true or"
        " false",
    ]


def _decide(
    engines: Engines, rules: TaxRules, buyer: Buyer, day: date
) -> list[tuple[int, str, str, Treatment, str, str]]:
    lines = (
        TaxableLine(0, 10000, "saas"),
        TaxableLine(1, 2000, "ebook"),
        TaxableLine(2, 5000, "training"),
        TaxableLine(3, 700, "physical_good"),  # not listed: standard
    )
    assert rules.seller is not None
    request = TaxRequest("ISK", rules.seller, buyer, lines, day)
    decided = engines.get("tax_engine", "example_iceland_vat").determine(request, rules)
    assert all(isinstance(tax, LineTax) for tax in decided)
    return [
        (t.line_index, t.jurisdiction, t.tax_name, t.treatment, t.rate_name, t.note)
        for t in decided
    ]


def test_the_engine_decides_by_the_sellers_registration_and_the_buyer(engines: Engines) -> None:
    rules = load_rule_set_from_files({"tax.yaml": ICELAND.encode()}, engines.by_kind).tax
    consumer = Buyer(Place("IS"))
    business = Buyer(
        Place("IS"),
        CustomerType.BUSINESS,
        (TaxIdFact("is_vat", "12345", TaxIdStatus.FORMAT_VALID, country="IS"),),
    )
    registered, lapsed = date(2025, 12, 31), date(2026, 1, 1)  # valid_until is exclusive
    assert _decide(engines, rules, consumer, registered) == [
        (0, "IS", "VAT", Treatment.TAXED, "standard", ""),
        (1, "IS", "VAT", Treatment.TAXED, "reduced", ""),
        (2, "IS", "VAT", Treatment.EXEMPT, "", "exempt supply"),
        (3, "IS", "VAT", Treatment.TAXED, "standard", ""),
    ]
    assert _decide(engines, rules, business, registered)[0][3] is Treatment.TAXED
    note = "Reverse charge: the buyer accounts for the VAT (Act No. 50/1988 on Value Added Tax)"
    assert _decide(engines, rules, business, lapsed) == [
        (index, "IS", "VAT", Treatment.REVERSE_CHARGE, "", note) for index in range(4)
    ]
    assert _decide(engines, rules, consumer, lapsed) == [
        (index, "IS", "VAT", Treatment.OUT_OF_SCOPE, "", "") for index in range(4)
    ]
    invalid_id = Buyer(
        Place("IS"), CustomerType.BUSINESS, (TaxIdFact("is_vat", "1", TaxIdStatus.INVALID),)
    )
    assert _decide(engines, rules, invalid_id, lapsed)[0][3] is Treatment.OUT_OF_SCOPE
    # A number the registry could not be asked about: taxed as a consumer under `charge`
    # (the policy's default), reverse charged under `trust_format`.
    unchecked = Buyer(
        Place("IS"), CustomerType.BUSINESS, (TaxIdFact("is_vat", "1", TaxIdStatus.UNKNOWN),)
    )
    assert _decide(engines, rules, unchecked, lapsed)[0][3] is Treatment.OUT_OF_SCOPE
    trusting = replace(
        rules, policy=replace(rules.policy, unknown_tax_id=UnknownTaxId.TRUST_FORMAT)
    )
    assert _decide(engines, trusting, unchecked, lapsed)[0][3] is Treatment.REVERSE_CHARGE
    no_reverse = TaxRules(
        rules.policy,
        Seller(Place("FR"), (Registration("FR", "FR1", date(2020, 1, 1)),)),
        jurisdictions={
            "IS": replace(rules.jurisdictions["IS"], settings={"reverse_charge_b2b": False})
        },
    )
    assert _decide(engines, no_reverse, business, registered)[0][3] is Treatment.OUT_OF_SCOPE


EXAMPLE = ROOT / "rules" / "examples" / "tax_iceland"


def test_the_iceland_example_is_accepted_by_rules_check() -> None:
    files = {p.name: p.read_bytes() for p in sorted(EXAMPLE.glob("*.yaml"))}
    result = subprocess.run(
        [sys.executable, "-m", "billing", "rules", "check", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"ok, rule set {content_hash(files)}" in result.stdout
    assert "warning" not in result.stderr
    assert sorted(p.name for p in EXAMPLE.iterdir()) == ["README.md", "catalog.yaml", "tax.yaml"]


def test_the_iceland_example_says_what_its_readme_says(engines: Engines) -> None:
    files = {p.name: p.read_bytes() for p in sorted(EXAMPLE.glob("*.yaml"))}
    rule_set = load_rule_set_from_files(files, engines.by_kind)
    tax = rule_set.tax
    assert tax.policy.enabled and tax.policy.prices_include_tax and tax.policy.require_tax_code
    iceland = tax.jurisdictions["IS"]
    on = date(2026, 4, 1)
    assert iceland.rate_on("standard", on).percent == Decimal(24)
    assert iceland.rate_on("reduced", on).percent == Decimal(11)
    assert iceland.rate_on("standard", date(2014, 12, 31)).percent == Decimal("25.5")
    assert iceland.rate_on("reduced", date(2014, 12, 31)).percent == Decimal(7)
    assert {code: p.tax_code for code, p in rule_set.catalog.products.items()} == {
        "hosting": "saas",
        "library": "ebook",
    }
    hosting = rule_set.catalog.plans["hosting_monthly"].prices
    assert [(p.currency, p.amount, p.tax_behavior) for p in hosting] == [
        ("ISK", Decimal(2480), "inclusive")
    ]
