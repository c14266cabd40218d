"""The European engines (eu_vat, uk_vat, ch_vat, no_vat) against hand-built rules: each
place-of-supply rule of ADR 0029, with the exact jurisdiction, treatment, rate name and note."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pytest

from billing.domain.tax import (
    Buyer,
    CustomerType,
    Exemption,
    Jurisdiction,
    LineTax,
    Place,
    Registration,
    Seller,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxPolicy,
    TaxRequest,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.engines import TaxNotDetermined
from billing.plugins.registry import load_engines

DAY = date(2026, 4, 1)
RC_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)"
)
BUSINESS = CustomerType.BUSINESS
EU = ("DE", "FR", "GR", "AT")


@pytest.fixture(scope="module")
def engines():
    return load_engines()


def jurisdiction(code: str, engine: str = "eu_vat", **extra: Any) -> Jurisdiction:
    return Jurisdiction(code, code, engine, "VAT", **extra)


def rules(
    *extra: Jurisdiction,
    unknown: UnknownTaxId = UnknownTaxId.CHARGE,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> TaxRules:
    listed = {code: jurisdiction(code, settings=(settings or {}).get(code, {})) for code in EU}
    listed |= {j.code: j for j in extra}
    return TaxRules(TaxPolicy(enabled=True, unknown_tax_id=unknown), jurisdictions=listed)


def seller(country: str, *registrations: str, until: date | None = None) -> Seller:
    return Seller(
        Place(country),
        tuple(Registration(code, f"{code}-123", date(2020, 1, 1), until) for code in registrations),
    )


def vat_id(value: str, status: TaxIdStatus = TaxIdStatus.VALID, kind: str = "eu_vat") -> TaxIdFact:
    return TaxIdFact(kind, value, status, DAY)


def buyer(
    country: str,
    *ids: TaxIdFact,
    kind: CustomerType = CustomerType.CONSUMER,
    exemptions: tuple[Exemption, ...] = (),
) -> Buyer:
    return Buyer(Place(country), kind, ids, exemptions)


def decide(
    engines: Any,
    sold_by: Seller,
    sold_to: Buyer,
    the_rules: TaxRules,
    *codes: str,
    on: date = DAY,
) -> list[LineTax]:
    home = the_rules.jurisdiction_for(sold_to.place)
    assert home is not None
    lines = tuple(TaxableLine(i, 10000, code) for i, code in enumerate(codes or ("saas",)))
    request = TaxRequest("EUR", sold_by, sold_to, lines, on)
    return list(engines.get("tax_engine", home.engine).determine(request, the_rules))


def brief(taxes: list[LineTax]) -> list[tuple[str, Treatment, str, str]]:
    return [(t.jurisdiction, t.treatment, t.rate_name, t.note) for t in taxes]


def one(taxes: list[LineTax]) -> tuple[str, Treatment, str, str]:
    assert len(taxes) == 1
    return brief(taxes)[0]


DE_BUSINESS = buyer("DE", vat_id("DE136695976"), kind=BUSINESS)
DE_CONSUMER = buyer("DE")
TAXED_DE = ("DE", Treatment.TAXED, "standard", "")
TAXED_FR = ("FR", Treatment.TAXED, "standard", "")


# --- eu_vat: business buyers ---------------------------------------------------------------


def test_b2b_cross_border_with_a_valid_vat_id_is_reverse_charged_with_the_legal_note(engines):
    taxes = decide(engines, seller("FR", "FR"), DE_BUSINESS, rules())
    assert one(taxes) == ("DE", Treatment.REVERSE_CHARGE, "", RC_NOTE)
    assert "DE136695976 is valid" in taxes[0].reason


def test_b2b_reverse_charge_from_a_seller_outside_the_eu(engines):
    assert one(decide(engines, seller("US"), DE_BUSINESS, rules())) == (
        "DE",
        Treatment.REVERSE_CHARGE,
        "",
        RC_NOTE,
    )


def test_the_reverse_charge_note_may_be_set_per_jurisdiction(engines):
    note = "Steuerschuldnerschaft des Leistungsempfängers (§ 13b UStG)"
    the_rules = rules(settings={"DE": {"reverse_charge_note": note}})
    assert one(decide(engines, seller("FR"), DE_BUSINESS, the_rules))[3] == note


def test_domestic_b2b_is_taxed_at_the_country_rate(engines):
    fr_business = buyer("FR", vat_id("FR40303265045"), kind=BUSINESS)
    assert one(decide(engines, seller("FR", "FR"), fr_business, rules())) == TAXED_FR


@pytest.mark.parametrize("status", [TaxIdStatus.UNKNOWN, TaxIdStatus.FORMAT_VALID])
def test_an_unconfirmed_vat_id_follows_the_unknown_tax_id_policy(engines, status):
    business = buyer("DE", vat_id("DE136695976", status), kind=BUSINESS)
    oss_seller = seller("FR", "FR", "EU-OSS")
    charged = decide(engines, oss_seller, business, rules(unknown=UnknownTaxId.CHARGE))
    trusted = decide(engines, oss_seller, business, rules(unknown=UnknownTaxId.TRUST_FORMAT))
    assert one(charged) == TAXED_DE
    assert "not confirmed (unknown_tax_id: charge)" in charged[0].reason
    assert one(trusted)[1] is Treatment.REVERSE_CHARGE


def test_an_invalid_vat_id_is_a_consumer_even_when_the_format_is_trusted(engines):
    business = buyer("DE", vat_id("DE000000000", TaxIdStatus.INVALID), kind=BUSINESS)
    the_rules = rules(unknown=UnknownTaxId.TRUST_FORMAT)
    assert one(decide(engines, seller("FR", "EU-OSS"), business, the_rules)) == TAXED_DE


def test_a_vat_id_of_another_country_or_a_consumer_with_an_id_is_no_business(engines):
    french_id = buyer("DE", vat_id("FR40303265045"), kind=BUSINESS)
    consumer_with_id = buyer("DE", vat_id("DE136695976"))
    for who in (french_id, consumer_with_id):
        assert one(decide(engines, seller("FR", "EU-OSS"), who, rules())) == TAXED_DE


def test_a_greek_vat_id_starts_el(engines):
    greek = buyer("GR", vat_id("EL094259216"), kind=BUSINESS)
    assert one(decide(engines, seller("DE"), greek, rules()))[1] is Treatment.REVERSE_CHARGE


# --- eu_vat: consumers, digital services ---------------------------------------------------


def test_domestic_b2c_is_taxed_at_the_country_rate(engines):
    assert one(decide(engines, seller("FR", "FR"), buyer("FR"), rules())) == TAXED_FR


def test_b2c_digital_from_a_non_eu_seller_with_the_non_union_oss(engines):
    taxes = decide(engines, seller("US", "EU-NONUNION-OSS"), DE_CONSUMER, rules())
    assert one(taxes) == TAXED_DE
    assert "registration EU-NONUNION-OSS EU-NONUNION-OSS-123" in taxes[0].reason


def test_b2c_digital_from_a_non_eu_seller_registered_directly_in_the_country(engines):
    assert one(decide(engines, seller("US", "DE"), DE_CONSUMER, rules())) == TAXED_DE


def test_b2c_digital_without_a_registration_is_refused_with_what_is_missing(engines):
    with pytest.raises(TaxNotDetermined) as refused:
        decide(engines, seller("US", "FR"), DE_CONSUMER, rules())
    assert str(refused.value) == (
        "the seller has no registration covering B2C supplies to DE: register for the "
        "non-Union OSS or list DE"
    )


def test_a_registration_no_longer_active_on_the_invoice_date_covers_nothing(engines):
    lapsed = seller("US", "EU-NONUNION-OSS", until=date(2026, 4, 1))
    assert one(decide(engines, lapsed, DE_CONSUMER, rules(), on=date(2026, 3, 31))) == TAXED_DE
    with pytest.raises(TaxNotDetermined, match="no registration covering B2C supplies to DE"):
        decide(engines, lapsed, DE_CONSUMER, rules(), on=date(2026, 4, 1))


def test_b2c_digital_without_a_registration_out_of_scope_when_the_rules_say_so(engines):
    the_rules = rules(settings={"DE": {"unregistered_seller": "out_of_scope"}})
    taxes = decide(engines, seller("US"), DE_CONSUMER, the_rules)
    assert one(taxes) == ("DE", Treatment.OUT_OF_SCOPE, "", "Outside the scope of VAT")
    assert "(unregistered_seller: out_of_scope)" in taxes[0].reason


def test_an_eu_seller_under_the_threshold_without_oss_charges_its_own_country(engines):
    taxes = decide(engines, seller("FR", "FR"), DE_CONSUMER, rules())
    assert one(taxes) == TAXED_FR
    assert "under the EUR 10,000 threshold without OSS" in taxes[0].reason


def test_an_eu_seller_with_the_union_oss_charges_the_customers_country(engines):
    assert one(decide(engines, seller("FR", "FR", "EU-OSS"), DE_CONSUMER, rules())) == TAXED_DE


def test_an_eu_seller_over_the_threshold_charges_the_customers_country(engines):
    over = rules(settings={"FR": {"oss_threshold_exceeded": True}})
    taxes = decide(engines, seller("FR", "FR"), DE_CONSUMER, over)
    assert one(taxes) == TAXED_DE
    assert "over the EUR 10,000 threshold" in taxes[0].reason


def test_the_threshold_may_be_crossed_on_a_date(engines):
    since = rules(settings={"FR": {"oss_threshold_exceeded": "2026-03-15"}})
    fr = seller("FR", "FR")
    assert one(decide(engines, fr, DE_CONSUMER, since, on=date(2026, 3, 14))) == TAXED_FR
    assert one(decide(engines, fr, DE_CONSUMER, since, on=date(2026, 3, 15))) == TAXED_DE


# --- eu_vat: other services, goods, tax codes ----------------------------------------------


def test_b2c_professional_services_are_taxed_where_the_supplier_is(engines):
    assert (
        one(decide(engines, seller("FR", "FR", "EU-OSS"), DE_CONSUMER, rules(), "consulting"))
        == TAXED_FR
    )
    assert one(decide(engines, seller("US"), DE_CONSUMER, rules(), "consulting")) == (
        "DE",
        Treatment.OUT_OF_SCOPE,
        "",
        "Outside the scope of EU VAT: the supplier is established outside the EU "
        "(Article 45, Council Directive 2006/112/EC)",
    )


def test_b2b_professional_services_are_reverse_charged_too(engines):
    taxes = decide(engines, seller("FR"), DE_BUSINESS, rules(), "consulting")
    assert one(taxes)[1] is Treatment.REVERSE_CHARGE


def test_supply_types_in_the_settings_reclassify_a_tax_code(engines):
    the_rules = rules(settings={"DE": {"supply_types": {"consulting": "digital"}}})
    taxes = decide(engines, seller("FR", "EU-OSS"), DE_CONSUMER, the_rules, "consulting")
    assert one(taxes) == TAXED_DE


def test_goods(engines):
    assert one(decide(engines, seller("FR"), DE_BUSINESS, rules(), "physical_good")) == (
        "FR",
        Treatment.EXEMPT,
        "",
        "Exempt intra-Community supply (Article 138, Council Directive 2006/112/EC)",
    )
    assert (
        one(decide(engines, seller("FR", "EU-OSS"), DE_CONSUMER, rules(), "physical_good"))
        == TAXED_DE
    )
    assert one(decide(engines, seller("FR"), DE_CONSUMER, rules(), "physical_good")) == TAXED_FR
    assert one(decide(engines, seller("US"), DE_CONSUMER, rules(), "physical_good")) == (
        "DE",
        Treatment.OUT_OF_SCOPE,
        "",
        "Import of goods: VAT is due on importation",
    )
    assert (
        one(decide(engines, seller("US", "EU-IOSS"), DE_CONSUMER, rules(), "physical_good"))
        == TAXED_DE
    )


def test_the_tax_code_mapping_names_the_rate_or_a_treatment(engines):
    de = jurisdiction(
        "DE",
        tax_codes={"ebook": "reduced", "medical": "exempt", "export": "zero_rated"},
        settings={
            "supply_types": {"medical": "digital", "export": "digital"},
            "zero_rated_note": "0% (§ 4 UStG)",
        },
    )
    taxes = decide(
        engines, seller("FR", "EU-OSS"), DE_CONSUMER, rules(de), "ebook", "medical", "export"
    )
    assert brief(taxes) == [
        ("DE", Treatment.TAXED, "reduced", ""),
        ("DE", Treatment.EXEMPT, "", "Exempt from VAT"),
        ("DE", Treatment.ZERO_RATED, "", "0% (§ 4 UStG)"),
    ]
    assert [t.line_index for t in taxes] == [0, 1, 2]
    assert "tax code medical is exempt in DE" in taxes[1].reason


def test_a_code_named_for_a_treatment_has_it_where_no_mapping_says_otherwise(engines):
    taxes = decide(engines, seller("FR", "FR"), buyer("FR"), rules(), "exempt", "zero_rated")
    assert [t.treatment for t in taxes] == [Treatment.EXEMPT, Treatment.ZERO_RATED]
    remapped = rules(jurisdiction("FR", tax_codes={"exempt": "reduced"}))
    assert one(decide(engines, seller("FR"), buyer("FR"), remapped, "exempt"))[:3] == (
        "FR",
        Treatment.TAXED,
        "reduced",
    )


def test_an_exempt_tax_code_stays_exempt_for_a_business_rather_than_reverse_charged(engines):
    de = jurisdiction("DE", tax_codes={"medical": "exempt"})
    taxes = decide(engines, seller("FR"), DE_BUSINESS, rules(de), "medical", "saas")
    assert [t.treatment for t in taxes] == [Treatment.EXEMPT, Treatment.REVERSE_CHARGE]


def test_each_line_is_placed_on_its_own(engines):
    taxes = decide(engines, seller("FR", "FR"), DE_CONSUMER, rules(), "saas", "consulting")
    assert [(t.line_index, t.jurisdiction) for t in taxes] == [(0, "FR"), (1, "FR")]
    with_oss = decide(engines, seller("FR", "EU-OSS"), DE_CONSUMER, rules(), "saas", "consulting")
    assert [(t.line_index, t.jurisdiction) for t in with_oss] == [(0, "DE"), (1, "FR")]


def test_eu_vat_refuses_a_buyer_outside_the_eu_and_settings_it_does_not_know(engines):
    ch = jurisdiction("CH")  # a mistake in the rules: CH given to eu_vat
    with pytest.raises(TaxNotDetermined, match="eu_vat taxes buyers in EU member states"):
        decide(engines, seller("FR"), buyer("CH"), rules(ch))
    bad = rules(settings={"DE": {"unregistered_seller": "ignore", "oss_threshold": True}})
    with pytest.raises(TaxNotDetermined) as refused:
        decide(engines, seller("FR"), DE_CONSUMER, bad)
    assert str(refused.value) == (
        "settings of DE: oss_threshold: unknown setting; "
        "unregistered_seller: must be error or out_of_scope, not 'ignore'"
    )


def test_check_settings_names_each_problem(engines):
    settings = {
        "oss_threshold_exceeded": "soon",
        "supply_types": {"saas": "software"},
        "exempt_note": 5,
    }
    assert engines.get("tax_engine", "eu_vat").check_settings(settings) == [
        "supply_types.saas: must be digital, services or goods, not 'software'",
        "exempt_note: must be text",
        "oss_threshold_exceeded: must be true, false or an ISO date (YYYY-MM-DD), not 'soon'",
    ]
    assert engines.get("tax_engine", "uk_vat").check_settings(
        {"b2b_requires_tax_id": "yes", "oss_threshold_exceeded": True}
    ) == [
        "oss_threshold_exceeded: unknown setting",
        "b2b_requires_tax_id: must be true or false",
    ]


# --- uk_vat, ch_vat, no_vat ------------------------------------------------------------------


def national(*codes: str, settings: Mapping[str, Any] | None = None, **extra: Any) -> TaxRules:
    engine = {"GB": "uk_vat", "CH": "ch_vat", "LI": "ch_vat", "NO": "no_vat"}
    listed = {
        code: jurisdiction(code, engine[code], settings=settings or {}, **extra) for code in codes
    }
    return TaxRules(TaxPolicy(enabled=True), jurisdictions=listed)


UK_RC = "Reverse charge: the customer accounts for the VAT to HMRC (section 8, VAT Act 1994)"
CH_RC = (
    "Reverse charge: acquisition tax (Bezugsteuer) to be accounted for by the recipient "
    "(Art. 45 MWSTG)"
)
NO_RC = "Reverse charge: VAT to be accounted for by the recipient (merverdiavgiftsloven § 11-1)"


def test_uk_digital_services_to_consumers_need_a_uk_registration(engines):
    gb = national("GB")
    assert one(decide(engines, seller("US", "GB"), buyer("GB"), gb)) == (
        "GB",
        Treatment.TAXED,
        "standard",
        "",
    )
    with pytest.raises(TaxNotDetermined) as refused:
        decide(engines, seller("US", "EU-NONUNION-OSS"), buyer("GB"), gb)
    assert str(refused.value) == (
        "the seller has no registration covering supplies to GB: list GB in its registrations"
    )


def test_uk_business_buyers_of_imported_services_reverse_charge(engines):
    business = buyer("GB", vat_id("GB980780684", kind="gb_vat"), kind=BUSINESS)
    assert one(decide(engines, seller("FR"), business, national("GB"))) == (
        "GB",
        Treatment.REVERSE_CHARGE,
        "",
        UK_RC,
    )


def test_uk_domestic_professional_and_zero_rated_supplies(engines):
    gb = national("GB", tax_codes={"printed_book": "zero_rated"})
    uk_seller = seller("GB", "GB")
    taxes = decide(engines, uk_seller, buyer("GB"), gb, "consulting", "printed_book")
    assert brief(taxes) == [
        ("GB", Treatment.TAXED, "standard", ""),
        ("GB", Treatment.ZERO_RATED, "", "Zero-rated supply: VAT at 0%"),
    ]
    assert one(decide(engines, seller("US", "GB"), buyer("GB"), gb, "consulting")) == (
        "GB",
        Treatment.OUT_OF_SCOPE,
        "",
        "Outside the scope of VAT: the place of supply is the supplier's country",
    )


def test_swiss_services_to_consumers_are_taxed_where_the_recipient_is(engines):
    ch = national("CH", "LI")
    registered = seller("US", "CH")
    for code in ("saas", "consulting"):
        assert one(decide(engines, registered, buyer("CH"), ch, code))[:3] == (
            "CH",
            Treatment.TAXED,
            "standard",
        )
    assert one(decide(engines, registered, buyer("LI"), ch))[:3] == (
        "LI",
        Treatment.TAXED,
        "standard",
    )
    with pytest.raises(TaxNotDetermined, match="list CH or LI in its registrations"):
        decide(engines, seller("US"), buyer("CH"), ch, "consulting")


def test_swiss_sellers_below_the_threshold_are_out_of_scope_when_the_rules_say_so(engines):
    ch = national("CH", settings={"unregistered_seller": "out_of_scope"})
    assert one(decide(engines, seller("DE"), buyer("CH"), ch))[:2] == (
        "CH",
        Treatment.OUT_OF_SCOPE,
    )


def test_swiss_business_buyers_reverse_charge(engines):
    business = buyer("CH", vat_id("CHE116281710", kind="ch_vat"), kind=BUSINESS)
    assert one(decide(engines, seller("DE"), business, national("CH"))) == (
        "CH",
        Treatment.REVERSE_CHARGE,
        "",
        CH_RC,
    )


def test_norway_voec_for_consumers_and_reverse_charge_for_businesses(engines):
    no = national("NO")
    assert one(decide(engines, seller("US", "NO-VOEC"), buyer("NO"), no))[:3] == (
        "NO",
        Treatment.TAXED,
        "standard",
    )
    business = buyer("NO", vat_id("NO974760673MVA", kind="no_vat"), kind=BUSINESS)
    assert one(decide(engines, seller("US"), business, no)) == (
        "NO",
        Treatment.REVERSE_CHARGE,
        "",
        NO_RC,
    )
    without_id = buyer("NO", kind=BUSINESS)
    relaxed = national("NO", settings={"b2b_requires_tax_id": False})
    assert one(decide(engines, seller("US"), without_id, relaxed))[1] is Treatment.REVERSE_CHARGE
    with pytest.raises(TaxNotDetermined, match="list NO or NO-VOEC"):
        decide(engines, seller("US"), without_id, no)


def test_national_goods_from_abroad_are_imports_unless_the_seller_is_registered(engines):
    gb = national("GB")
    assert one(decide(engines, seller("US"), buyer("GB"), gb, "physical_good")) == (
        "GB",
        Treatment.OUT_OF_SCOPE,
        "",
        "Import of goods: VAT is due on importation",
    )
    assert one(decide(engines, seller("US", "GB"), buyer("GB"), gb, "physical_good"))[1] is (
        Treatment.TAXED
    )


def test_a_domestic_seller_without_registration_follows_the_setting(engines):
    with pytest.raises(TaxNotDetermined, match="covering supplies to NO"):
        decide(engines, seller("NO"), buyer("NO"), national("NO"))
    small = national("NO", settings={"unregistered_seller": "out_of_scope"})
    assert one(decide(engines, seller("NO"), buyer("NO"), small))[1] is Treatment.OUT_OF_SCOPE


def test_a_national_engine_refuses_a_buyer_outside_its_territory(engines):
    gb = national("GB")
    request = TaxRequest("EUR", seller("GB"), buyer("FR"), (TaxableLine(0, 1, "saas"),), DAY)
    with pytest.raises(TaxNotDetermined, match="uk_vat taxes buyers in GB; 'FR' is not one"):
        engines.get("tax_engine", "uk_vat").determine(request, gb)
