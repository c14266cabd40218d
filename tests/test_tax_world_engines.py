"""The engines outside Europe (ADR 0030), each against hand-built rules: what they decide per
line (jurisdiction, tax, rate name or treatment, note). The money is the core's; see
tests/test_tax_world_api.py for worked amounts through QuoteTax."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from billing.domain.tax import (
    Buyer,
    CustomerType,
    Jurisdiction,
    LineTax,
    Place,
    Registration,
    Seller,
    TaxableLine,
    TaxIdFact,
    TaxIdStatus,
    TaxPolicy,
    TaxRate,
    TaxRequest,
    TaxRules,
    Treatment,
    UnknownTaxId,
)
from billing.plugins.engines import TaxNotDetermined
from billing.plugins.registry import load_engines
from billing_builtin.tax_world import Canada, CountryGst, IndiaGst, UsSalesTax
from billing_builtin.tax_world.apac import AU, JP, NZ, SG

DAY = date(2025, 6, 2)
SOURCE = "test"


def place(code: str, name: str, engine: str, tax_name: str, **kw: Any) -> Jurisdiction:
    rates = tuple(
        TaxRate(rate_name, Decimal(percent), since, SOURCE)
        for rate_name, percent, since in kw.pop("rates", ())
    )
    return Jurisdiction(code, name, engine, tax_name, rates=rates, **kw)


def rules(*places: Jurisdiction, policy: TaxPolicy | None = None) -> TaxRules:
    return TaxRules(
        policy=policy or TaxPolicy(enabled=True), jurisdictions={p.code: p for p in places}
    )


def registrations(*codes: str, since: date = date(2020, 1, 1)) -> tuple[Registration, ...]:
    return tuple(Registration(code, f"REG-{code}", since) for code in codes)


def request(
    seller: Seller,
    buyer: Buyer,
    *codes: str,
    day: date = DAY,
) -> TaxRequest:
    lines = tuple(TaxableLine(i, 10_000, code) for i, code in enumerate(codes or ("saas",)))
    return TaxRequest("USD", seller, buyer, lines, day)


def decided(taxes: Sequence[LineTax]) -> list[tuple[Any, ...]]:
    return [
        (t.line_index, t.jurisdiction, t.tax_name, t.treatment.value, t.rate_name) for t in taxes
    ]


def business(country: str, subdivision: str = "", *ids: tuple[str, TaxIdStatus]) -> Buyer:
    facts = tuple(TaxIdFact(kind, "X123", status) for kind, status in ids)
    return Buyer(Place(country, subdivision), CustomerType.BUSINESS, facts)


def consumer(country: str, subdivision: str = "") -> Buyer:
    return Buyer(Place(country, subdivision))


def test_every_engine_is_registered_through_the_entry_point():
    names = set(load_engines().by_kind["tax_engine"])
    assert {"canada", "india_gst", "us_sales_tax", "au_gst", "nz_gst", "sg_gst", "jp_ct"} <= names


# --- canada ----------------------------------------------------------------------------------

CODES = {"saas": "standard", "exempt": "exempt", "food": "zero_rated"}
CA = place(
    "CA", "Canada", "canada", "GST", rates=[("standard", 5, date(2008, 1, 1))], tax_codes=CODES
)
ON = place(
    "CA-ON",
    "Ontario",
    "canada",
    "HST",
    rates=[("standard", 13, date(2010, 7, 1))],
    settings={"provincial": "hst"},
)
BC = place(
    "CA-BC",
    "British Columbia",
    "canada",
    "PST",
    rates=[("standard", 7, date(2013, 4, 1))],
    tax_codes={"saas": "standard", "professional_service": "exempt"},
    settings={"provincial": "pst"},
)
QC = place(
    "CA-QC",
    "Quebec",
    "canada",
    "QST",
    rates=[("standard", Decimal("9.975"), date(2013, 1, 1))],
    settings={"provincial": "qst"},
)
AB = place("CA-AB", "Alberta", "canada", "GST", settings={"provincial": "none"})
CANADA = rules(CA, ON, BC, QC, AB)
CA_SELLER = Seller(Place("CA", "ON"), registrations("CA", "CA-BC", "CA-QC"))


def test_canada_hst_replaces_gst_in_an_hst_province():
    taxes = Canada().determine(request(CA_SELLER, consumer("CA", "ON")), CANADA)
    assert decided(taxes) == [(0, "CA-ON", "HST", "taxed", "standard")]
    assert taxes[0].reason == "place of supply: the buyer's province CA-ON"


def test_canada_gst_and_pst_in_bc_each_on_the_line():
    taxes = Canada().determine(request(CA_SELLER, consumer("CA", "BC")), CANADA)
    assert decided(taxes) == [
        (0, "CA", "GST", "taxed", "standard"),
        (0, "CA-BC", "PST", "taxed", "standard"),
    ]


def test_canada_gst_and_qst_in_quebec():
    taxes = Canada().determine(request(CA_SELLER, consumer("CA", "QC")), CANADA)
    assert decided(taxes) == [
        (0, "CA", "GST", "taxed", "standard"),
        (0, "CA-QC", "QST", "taxed", "standard"),
    ]


def test_canada_pst_only_where_the_seller_is_registered_for_it():
    seller = Seller(Place("CA", "ON"), registrations("CA"))
    taxes = Canada().determine(request(seller, consumer("CA", "BC")), CANADA)
    assert decided(taxes) == [(0, "CA", "GST", "taxed", "standard")]


def test_canada_pst_skips_a_code_the_province_does_not_tax():
    taxes = Canada().determine(
        request(CA_SELLER, consumer("CA", "BC"), "professional_service"), CANADA
    )
    assert decided(taxes) == [(0, "CA", "GST", "taxed", "standard")]


def test_canada_gst_only_province():
    taxes = Canada().determine(request(CA_SELLER, consumer("CA", "AB")), CANADA)
    assert decided(taxes) == [(0, "CA", "GST", "taxed", "standard")]


def test_canada_federal_codes_decide_exempt_and_zero_rated_with_their_notes():
    taxes = Canada().determine(request(CA_SELLER, consumer("CA", "ON"), "exempt", "food"), CANADA)
    assert decided(taxes) == [
        (0, "CA-ON", "HST", "exempt", "standard"),
        (1, "CA-ON", "HST", "zero_rated", "standard"),
    ]
    assert taxes[0].note == "Exempt supply (Excise Tax Act, Schedule V)"
    assert taxes[1].note == "Zero-rated supply (Excise Tax Act, Schedule VI)"


def test_canada_needs_the_province():
    with pytest.raises(TaxNotDetermined, match="a Canadian address needs its province"):
        Canada().determine(request(CA_SELLER, consumer("CA")), CANADA)


def test_canada_small_supplier_is_out_of_scope_or_an_error_as_the_setting_says():
    seller = Seller(Place("CA", "ON"))
    taxes = Canada().determine(request(seller, consumer("CA", "ON")), CANADA)
    assert decided(taxes) == [(0, "CA", "GST/HST", "out_of_scope", "standard")]
    assert "small supplier" in taxes[0].note
    strict = rules(place("CA", "Canada", "canada", "GST", settings={"unregistered": "error"}), ON)
    with pytest.raises(TaxNotDetermined, match="not registered for GST/HST"):
        Canada().determine(request(seller, consumer("CA", "ON")), strict)


def test_canada_non_resident_to_a_registered_business_charges_no_gst():
    seller = Seller(Place("US", "WA"), registrations("CA"))
    buyer = business("CA", "ON", ("ca_bn", TaxIdStatus.FORMAT_VALID))
    taxes = Canada().determine(request(seller, buyer), CANADA)
    assert decided(taxes) == [(0, "CA-ON", "HST", "out_of_scope", "standard")]
    consumer_taxes = Canada().determine(request(seller, consumer("CA", "ON")), CANADA)
    assert decided(consumer_taxes) == [(0, "CA-ON", "HST", "taxed", "standard")]


def test_canada_checks_its_settings():
    assert Canada().check_settings({"provincial": "hst"}) == []
    assert Canada().check_settings({"provincial": "gst", "colour": 1}) == [
        "settings.provincial must be one of hst, pst, qst, none, got 'gst'",
        "unknown setting 'colour' (known: provincial, unregistered)",
    ]


# --- india_gst --------------------------------------------------------------------------------

IN = place(
    "IN",
    "India",
    "india_gst",
    "GST",
    rates=[
        ("igst", 18, date(2017, 7, 1)),
        ("cgst", 9, date(2017, 7, 1)),
        ("sgst", 9, date(2017, 7, 1)),
        ("igst_low", 5, date(2017, 7, 1)),
        ("cgst_low", Decimal("2.5"), date(2017, 7, 1)),
        ("sgst_low", Decimal("2.5"), date(2017, 7, 1)),
    ],
    tax_codes={"saas": "igst", "ebook": "igst_low", "exempt": "exempt"},
)
INDIA = rules(IN)
KA_SELLER = Seller(Place("IN", "KA"), registrations("IN-KA"))
GSTIN = ("in_gst", TaxIdStatus.FORMAT_VALID)


def test_india_intra_state_is_cgst_plus_sgst():
    taxes = IndiaGst().determine(request(KA_SELLER, business("IN", "KA", GSTIN)), INDIA)
    assert decided(taxes) == [
        (0, "IN", "CGST", "taxed", "cgst"),
        (0, "IN", "SGST", "taxed", "sgst"),
    ]
    assert taxes[0].reason == "intra-state supply in IN-KA"


def test_india_inter_state_is_igst():
    taxes = IndiaGst().determine(
        request(KA_SELLER, business("IN", "MH", GSTIN), "saas", "ebook"), INDIA
    )
    assert decided(taxes) == [
        (0, "IN", "IGST", "taxed", "igst"),
        (1, "IN", "IGST", "taxed", "igst_low"),
    ]
    assert taxes[0].reason == "inter-state supply: KA to MH"


def test_india_slab_names_follow_the_igst_name():
    taxes = IndiaGst().determine(request(KA_SELLER, consumer("IN", "KA"), "ebook"), INDIA)
    assert [t.rate_name for t in taxes] == ["cgst_low", "sgst_low"]


def test_india_union_territory_without_legislature_levies_utgst():
    seller = Seller(Place("IN", "CH"), registrations("IN"))
    taxes = IndiaGst().determine(request(seller, consumer("IN", "CH")), INDIA)
    assert [t.tax_name for t in taxes] == ["CGST", "UTGST"]


def test_india_consumer_without_a_state_is_placed_at_the_seller():
    taxes = IndiaGst().determine(request(KA_SELLER, consumer("IN")), INDIA)
    assert [t.tax_name for t in taxes] == ["CGST", "SGST"]
    with pytest.raises(TaxNotDetermined, match="an Indian business address needs its state"):
        IndiaGst().determine(request(KA_SELLER, business("IN", "", GSTIN)), INDIA)


def test_india_exempt_code():
    taxes = IndiaGst().determine(request(KA_SELLER, consumer("IN", "MH"), "exempt"), INDIA)
    assert decided(taxes) == [(0, "IN", "GST", "exempt", "standard")]
    assert taxes[0].note == "Exempt supply (CGST Act 2017 s.11)"


def test_india_foreign_seller_reverse_charge_to_a_gstin_and_oidar_to_a_consumer():
    seller = Seller(Place("US", "WA"), registrations("IN"))
    b2b = IndiaGst().determine(request(seller, business("IN", "MH", GSTIN)), INDIA)
    assert decided(b2b) == [(0, "IN", "IGST", "reverse_charge", "igst")]
    assert "reverse charge" in b2b[0].note
    b2c = IndiaGst().determine(request(seller, consumer("IN", "MH")), INDIA)
    assert decided(b2c) == [(0, "IN", "IGST", "taxed", "igst")]
    unregistered = Seller(Place("US", "WA"))
    none = IndiaGst().determine(request(unregistered, consumer("IN", "MH")), INDIA)
    assert decided(none) == [(0, "IN", "IGST", "out_of_scope", "standard")]


def test_india_business_without_a_gstin_is_a_consumer():
    seller = Seller(Place("US", "WA"), registrations("IN"))
    invalid = business("IN", "MH", ("in_gst", TaxIdStatus.INVALID))
    assert decided(IndiaGst().determine(request(seller, invalid), INDIA)) == [
        (0, "IN", "IGST", "taxed", "igst")
    ]


def test_india_seller_needs_its_state():
    with pytest.raises(TaxNotDetermined, match="seller's Indian address needs its state"):
        IndiaGst().determine(
            request(Seller(Place("IN"), registrations("IN")), consumer("IN", "KA")), INDIA
        )


# --- us_sales_tax -----------------------------------------------------------------------------

WA = place(
    "US-WA",
    "Washington",
    "us_sales_tax",
    "sales tax",
    rates=[("standard", Decimal("6.5"), date(2020, 1, 1))],
    tax_codes={"saas": "standard"},
)
TX = place(
    "US-TX",
    "Texas",
    "us_sales_tax",
    "sales tax",
    rates=[("standard", Decimal("6.25"), date(2020, 1, 1)), ("saas", 5, date(2020, 1, 1))],
    tax_codes={"saas": "saas"},
)
CAL = place(
    "US-CA",
    "California",
    "us_sales_tax",
    "sales tax",
    rates=[("standard", Decimal("7.25"), date(2017, 1, 1))],
    tax_codes={"saas": "exempt"},
)
OR = place("US-OR", "Oregon", "us_sales_tax", "sales tax", settings={"state_sales_tax": False})
US = place("US", "United States", "us_sales_tax", "sales tax")
STATES = rules(US, WA, TX, CAL, OR)
US_SELLER = Seller(Place("US", "DE"), registrations("US-WA", "US-TX", "US-CA"))


def test_us_taxed_with_nexus_at_the_state_rate_name():
    taxes = UsSalesTax().determine(
        request(US_SELLER, consumer("US", "WA"), "saas", "physical_good"), STATES
    )
    assert decided(taxes) == [
        (0, "US-WA", "sales tax", "taxed", "standard"),
        (1, "US-WA", "sales tax", "taxed", "standard"),
    ]


def test_us_texas_saas_rate():
    taxes = UsSalesTax().determine(request(US_SELLER, business("US", "TX")), STATES)
    assert decided(taxes) == [(0, "US-TX", "sales tax", "taxed", "saas")]


def test_us_saas_not_taxable_in_california():
    taxes = UsSalesTax().determine(request(US_SELLER, consumer("US", "CA")), STATES)
    assert decided(taxes) == [(0, "US-CA", "sales tax", "exempt", "standard")]
    assert taxes[0].note == "Not taxable in this state"


def test_us_no_nexus_is_out_of_scope():
    seller = Seller(Place("US", "DE"), registrations("US-WA", since=date(2026, 1, 1)))
    taxes = UsSalesTax().determine(request(seller, consumer("US", "WA")), STATES)
    assert decided(taxes) == [(0, "US-WA", "sales tax", "out_of_scope", "standard")]
    assert taxes[0].note == "no sales tax nexus"


def test_us_state_without_sales_tax():
    taxes = UsSalesTax().determine(request(US_SELLER, consumer("US", "OR")), STATES)
    assert decided(taxes) == [(0, "US-OR", "sales tax", "out_of_scope", "standard")]
    assert taxes[0].note == "No state sales tax"


def test_us_needs_the_state_and_an_unlisted_state_is_out_of_scope_unless_registered():
    with pytest.raises(TaxNotDetermined, match="a US address needs its state"):
        UsSalesTax().determine(request(US_SELLER, consumer("US")), STATES)
    unlisted = UsSalesTax().determine(request(US_SELLER, consumer("US", "PR")), STATES)
    assert decided(unlisted) == [(0, "US-PR", "sales tax", "out_of_scope", "standard")]
    assert unlisted[0].note == "no sales tax nexus"
    registered_there = Seller(Place("US", "DE"), registrations("US-PR"))
    with pytest.raises(TaxNotDetermined, match="registered in US-PR, which the tax rules do not"):
        UsSalesTax().determine(request(registered_there, consumer("US", "PR")), STATES)


class FixedRateProvider:
    """An Avalara-like provider: answers with its own rate for the buyer's address."""

    def __init__(self) -> None:
        self.asked: list[TaxRequest] = []

    def determine(self, request: TaxRequest, rules: TaxRules) -> Sequence[LineTax]:
        self.asked.append(request)
        return [
            LineTax(
                line.index,
                request.buyer.place.jurisdiction,
                "sales tax",
                Treatment.TAXED,
                rate_name="provider",
                rate=Decimal("10.35"),
                reason="provider: Seattle",
            )
            for line in request.lines
        ]


def test_us_provider_setting_delegates_to_another_engine():
    provider = FixedRateProvider()
    engines: Mapping[str, Any] = {"acme_tax": provider}
    delegated = rules(
        US,
        TX,
        CAL,
        OR,
        place(
            "US-WA", "Washington", "us_sales_tax", "sales tax", settings={"provider": "acme_tax"}
        ),
    )
    engine = UsSalesTax(engines.__getitem__)
    taxes = engine.determine(request(US_SELLER, consumer("US", "WA")), delegated)
    assert [(t.rate, t.reason) for t in taxes] == [(Decimal("10.35"), "provider: Seattle")]
    assert len(provider.asked) == 1
    # on the country entry, it covers every state
    everywhere = rules(
        place(
            "US", "United States", "us_sales_tax", "sales tax", settings={"provider": "acme_tax"}
        ),
        CAL,
    )
    assert engine.determine(request(US_SELLER, consumer("US", "CA")), everywhere)[
        0
    ].rate == Decimal("10.35")


def test_us_provider_must_be_registered_and_not_itself():
    looped = rules(
        place(
            "US-WA",
            "Washington",
            "us_sales_tax",
            "sales tax",
            settings={"provider": "us_sales_tax"},
        )
    )
    with pytest.raises(TaxNotDetermined, match="names this engine"):
        UsSalesTax().determine(request(US_SELLER, consumer("US", "WA")), looped)
    missing = rules(
        place("US-WA", "Washington", "us_sales_tax", "sales tax", settings={"provider": "nobody"})
    )
    with pytest.raises(TaxNotDetermined, match="'nobody', which no plugin registers"):
        UsSalesTax().determine(request(US_SELLER, consumer("US", "WA")), missing)


def test_us_checks_its_settings():
    engine = UsSalesTax(names=lambda: ("us_sales_tax", "acme_tax", "none"))
    assert engine.check_settings({"provider": "acme_tax", "state_sales_tax": False}) == []
    assert engine.check_settings({"provider": ""}) == [
        "settings.provider must be a non-empty string, got ''"
    ]
    assert engine.check_settings({"provider": "avalara"}) == [
        "settings.provider names 'avalara', which no plugin registers (registered: acme_tax, none)"
    ]
    assert engine.check_settings({"provider": "us_sales_tax"}) == [
        "settings.provider names us_sales_tax itself"
    ]
    assert engine.check_settings({"state_sales_tax": "no"}) == [
        "settings.state_sales_tax must be true or false, got 'no'"
    ]


def test_us_provider_names_default_to_the_installed_engines():
    assert UsSalesTax().check_settings({"provider": "flat_rate"}) == []


# --- au_gst, nz_gst, sg_gst, jp_ct ---------------------------------------------------------------


def country(code: str, engine: str, tax_name: str = "GST", **kw: Any) -> Jurisdiction:
    return place(
        code, code, engine, tax_name, tax_codes={"saas": "standard", "exempt": "exempt"}, **kw
    )


@pytest.mark.parametrize(
    ("profile", "engine", "tax_id", "b2b"),
    [
        (AU, "au_gst", "au_abn", "out_of_scope"),
        (NZ, "nz_gst", "nz_gst", "out_of_scope"),
        (SG, "sg_gst", "sg_uen", "reverse_charge"),
        (JP, "jp_ct", "jp_cn", "reverse_charge"),
    ],
)
def test_imported_digital_services(profile, engine, tax_id, b2b):
    code = profile.country
    tax_rules = rules(country(code, engine, profile.tax_name))
    gst = CountryGst(profile)
    registered = Seller(Place("US", "WA"), registrations(code))
    unregistered = Seller(Place("US", "WA"))
    to_business = business(code, "", (tax_id, TaxIdStatus.VALID))
    assert decided(gst.determine(request(registered, to_business), tax_rules)) == [
        (0, code, profile.tax_name, b2b, "standard")
    ]
    assert decided(gst.determine(request(registered, consumer(code)), tax_rules)) == [
        (0, code, profile.tax_name, "taxed", "standard")
    ]
    assert decided(gst.determine(request(unregistered, consumer(code)), tax_rules)) == [
        (0, code, profile.tax_name, "out_of_scope", "standard")
    ]


def test_au_business_needs_an_abn_we_may_rely_on():
    tax_rules = rules(country("AU", "au_gst"))
    seller = Seller(Place("US", "WA"), registrations("AU"))
    unknown = business("AU", "", ("au_abn", TaxIdStatus.UNKNOWN))
    charged = CountryGst(AU).determine(request(seller, unknown), tax_rules)
    assert charged[0].treatment is Treatment.TAXED  # policy: charge when the registry is down
    trusting = rules(
        country("AU", "au_gst"), policy=TaxPolicy(True, unknown_tax_id=UnknownTaxId.TRUST_FORMAT)
    )
    assert (
        CountryGst(AU).determine(request(seller, unknown), trusting)[0].treatment
        is Treatment.OUT_OF_SCOPE
    )
    no_id = business("AU")
    assert (
        CountryGst(AU).determine(request(seller, no_id), tax_rules)[0].treatment is Treatment.TAXED
    )


def test_jp_business_reverse_charge_without_a_tax_id_and_its_note():
    tax_rules = rules(country("JP", "jp_ct", "consumption tax"))
    seller = Seller(Place("US", "WA"), registrations("JP"))
    taxes = CountryGst(JP).determine(request(seller, business("JP")), tax_rules)
    assert taxes[0].treatment is Treatment.REVERSE_CHARGE
    assert "consumption tax to be paid by the recipient" in taxes[0].note


def test_domestic_seller_below_the_threshold_and_b2b_treatment_setting():
    nz = country("NZ", "nz_gst", settings={"b2b_treatment": "reverse_charge"})
    seller = Seller(Place("NZ"))
    taxes = CountryGst(NZ).determine(request(seller, consumer("NZ")), rules(nz))
    assert decided(taxes) == [(0, "NZ", "GST", "out_of_scope", "standard")]
    foreign = Seller(Place("AU"), registrations("NZ"))
    to_business = business("NZ", "", ("nz_gst", TaxIdStatus.VALID))
    assert CountryGst(NZ).determine(request(foreign, to_business), rules(nz))[0].treatment is (
        Treatment.REVERSE_CHARGE
    )
    domestic = Seller(Place("NZ"), registrations("NZ"))
    assert CountryGst(NZ).determine(request(domestic, to_business), rules(nz))[0].treatment is (
        Treatment.TAXED
    )
    assert CountryGst(NZ).check_settings({"b2b_treatment": "exempt"}) == [
        "settings.b2b_treatment must be one of reverse_charge, out_of_scope, got 'exempt'"
    ]


def test_sg_unregistered_error_setting():
    sg = country("SG", "sg_gst", settings={"unregistered": "error"})
    with pytest.raises(TaxNotDetermined, match="overseas vendor registration"):
        CountryGst(SG).determine(request(Seller(Place("US")), consumer("SG")), rules(sg))
