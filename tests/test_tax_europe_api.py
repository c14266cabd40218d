"""The European engines through the public API (QuoteTax over a real channel, on SQLite and
PostgreSQL) with the shipped rates (rules/tax_eu.yaml, rules/tax_europe.yaml): the issue's
headline cases, one worked amount per jurisdiction family, and a rate change on a date."""

from __future__ import annotations

from datetime import date

import grpc
import pytest
from google.type import date_pb2

from billing.app.tax import compute_tax
from billing.domain.tax import Buyer, Place, TaxableLine, TaxRequest
from billing.plugins.registry import load_engines
from billing.rules import load_rule_set_from_files
from billing_builtin.tax_europe.eu import MEMBER_STATES
from billing_client.v1 import money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import REPO_RULES, Tenant
from grpc_helpers import error_info

RC_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)"
)
EUROPE = {name: (REPO_RULES / name).read_bytes() for name in ("tax_eu.yaml", "tax_europe.yaml")}
FRENCH_SELLER = """
  country: FR
  tax_ids: [{type: eu_vat, value: FR40303265045}]
  registrations:
    - {jurisdiction: FR, number: FR40303265045, valid_from: 2020-01-01}
    - {jurisdiction: EU-OSS, number: FR40303265045, valid_from: 2021-07-01}
"""
US_SELLER_WITH_NON_UNION_OSS = """
  country: US
  registrations:
    - {jurisdiction: EU-NONUNION-OSS, number: EU372000041, valid_from: 2021-07-01}
    - {jurisdiction: GB, number: GB123456789, valid_from: 2021-01-01}
    - {jurisdiction: CH, number: CHE123456789, valid_from: 2018-01-01}
    - {jurisdiction: "NO", number: VOEC2060001, valid_from: 2020-04-01}
"""
IRISH_REGISTRATION = """    - {jurisdiction: IE, number: IE6388047V, valid_from: 2015-01-01}
"""
GERMAN_SELLER = """
  country: DE
  registrations:
    - {jurisdiction: DE, number: DE136695976, valid_from: 2015-01-01}
"""
US_SELLER_UNREGISTERED = """
  country: US
  registrations: []
"""


def tax_rules(seller: str, *, unknown_tax_id: str = "trust_format") -> dict[str, bytes]:
    policy = f"""kind: tax
policy:
  enabled: true
  rounding: line
  default_tax_code: saas
  unknown_tax_id: {unknown_tax_id}
seller:
  name: Seller{seller}
tax_codes:
  - {{code: saas, description: Software as a service}}
  - {{code: ebook, description: E-books}}
  - {{code: professional_service, description: Consulting}}
"""
    return rules() | EUROPE | {"tax.yaml": policy.encode()}


@pytest.fixture
def tax(channel: grpc.Channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Tenant) -> Billing:
    return Billing(channel, tenant.metadata)


def quote(
    billing: Billing,
    tax: tax_pb2_grpc.TaxServiceStub,
    country: str,
    *lines: tuple[int, str],
    business_id: tuple[str, str] | None = None,
    currency: str = "EUR",
    on: date = date(2026, 3, 2),
) -> tax_pb2.TaxQuote:
    buyer = tax_pb2.QuoteBuyer(country=country, customer_type=tax_pb2.QuoteBuyer.CONSUMER)
    if business_id is not None:
        buyer.customer_type = tax_pb2.QuoteBuyer.BUSINESS
        buyer.tax_ids.add(type=business_id[0], value=business_id[1])
    return tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=buyer,
            lines=[
                tax_pb2.QuoteLine(
                    amount=money_pb2.Money(currency_code=currency, amount_minor=amount),
                    tax_code=code,
                )
                for amount, code in lines
            ],
            currency_code=currency,
            date=date_pb2.Date(year=on.year, month=on.month, day=on.day),
        ),
        metadata=billing.metadata,
    )


def taxes(q: tax_pb2.TaxQuote) -> list[tuple[str, str, str, str, int, int]]:
    return [
        (
            t.jurisdiction,
            t.treatment,
            t.rate_name,
            t.percent,
            t.taxable.amount_minor,
            t.tax.amount_minor,
        )
        for t in q.taxes
    ]


def totals(q: tax_pb2.TaxQuote) -> tuple[int, int, int]:
    return q.net.amount_minor, q.tax.amount_minor, q.gross.amount_minor


# --- the headline cases ----------------------------------------------------------------


def test_a_german_business_buying_from_a_french_seller_is_reverse_charged(billing, tax):
    billing.push(tax_rules(FRENCH_SELLER))
    q = quote(billing, tax, "DE", (10000, "saas"), business_id=("eu_vat", "DE 136 695 976"))
    assert totals(q) == (10000, 0, 10000)
    assert taxes(q) == [("DE", "reverse_charge", "", "0", 10000, 0)]
    assert q.taxes[0].note == RC_NOTE
    assert list(q.notes) == [RC_NOTE]
    assert q.jurisdiction == "DE"


def test_the_same_business_is_charged_german_vat_while_its_id_is_unconfirmed(billing, tax):
    billing.push(tax_rules(FRENCH_SELLER, unknown_tax_id="charge"))
    q = quote(billing, tax, "DE", (10000, "saas"), business_id=("eu_vat", "DE136695976"))
    assert totals(q) == (10000, 1900, 11900)  # OSS: the customer's country
    assert taxes(q) == [("DE", "taxed", "standard", "19", 10000, 1900)]


def test_a_german_consumer_buying_from_a_us_seller_pays_german_vat_through_oss(billing, tax):
    billing.push(tax_rules(US_SELLER_WITH_NON_UNION_OSS))
    q = quote(billing, tax, "DE", (10000, "saas"), (2999, "ebook"))
    assert totals(q) == (12999, 1900 + 210, 15109)
    assert taxes(q) == [
        ("DE", "taxed", "standard", "19", 10000, 1900),
        ("DE", "taxed", "reduced", "7", 2999, 210),  # 209.93
    ]
    standard = q.taxes[0]
    assert standard.rule_entry == "tax_eu.yaml: jurisdictions[DE].rates[2]"
    assert standard.source == "UStG §12(1): the temporary rate of §28(1) ended on 2020-12-31"
    assert list(q.notes) == []


def test_a_french_consumer_buying_from_a_french_seller_pays_french_vat(billing, tax):
    billing.push(tax_rules(FRENCH_SELLER))
    q = quote(billing, tax, "FR", (10000, "saas"), (1999, "ebook"))
    assert totals(q) == (11999, 2000 + 110, 14109)
    assert taxes(q) == [
        ("FR", "taxed", "standard", "20", 10000, 2000),
        ("FR", "taxed", "reduced_2", "5.5", 1999, 110),  # 109.945
    ]


def test_a_price_including_german_vat_splits_into_net_and_tax(billing, tax):
    billing.push(tax_rules(US_SELLER_WITH_NON_UNION_OSS))
    q = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=tax_pb2.QuoteBuyer(country="DE"),
            lines=[
                tax_pb2.QuoteLine(
                    amount=money_pb2.Money(currency_code="EUR", amount_minor=amount),
                    tax_code="saas",
                    inclusive=True,
                )
                for amount in (11900, 999)
            ],
            currency_code="EUR",
            date=date_pb2.Date(year=2026, month=3, day=2),
        ),
        metadata=billing.metadata,
    )
    # 9.99 / 1.19 = 8.394957...: tax 1.595042... rounds to 1.60, net 8.39 (tax first).
    assert [(line.net.amount_minor, line.tax.amount_minor) for line in q.lines] == [
        (10000, 1900),
        (839, 160),
    ]
    assert totals(q) == (10839, 2060, 12899)
    assert taxes(q) == [("DE", "taxed", "standard", "19", 10839, 2060)]


def test_a_seller_without_a_registration_covering_the_consumer_is_refused(billing, tax):
    billing.push(tax_rules(US_SELLER_UNREGISTERED))
    with pytest.raises(grpc.RpcError) as caught:
        quote(billing, tax, "DE", (10000, "saas"))
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == (
        "tax in DE not determined: the seller has no registration covering B2C supplies to "
        "DE: register for the non-Union OSS or list DE"
    )
    assert error_info(caught.value).reason == "TAX_NOT_DETERMINED"


def test_b2c_consulting_is_taxed_where_the_french_seller_is(billing, tax):
    billing.push(tax_rules(FRENCH_SELLER))
    q = quote(billing, tax, "IT", (50000, "professional_service"), (10000, "saas"))
    assert taxes(q) == [
        ("FR", "taxed", "standard", "20", 50000, 10000),
        ("IT", "taxed", "standard", "22", 10000, 2200),
    ]


# Today's standard rate of every listed jurisdiction, on 123.45 (hand-computed, half up).
STANDARD_ON_123_45 = {
    "AT": ("20", 2469),
    "BE": ("21", 2592),  # 25.9245
    "BG": ("20", 2469),
    "CY": ("19", 2346),  # 23.4555
    "CZ": ("21", 2592),
    "DE": ("19", 2346),
    "DK": ("25", 3086),  # 30.8625
    "EE": ("24", 2963),  # 29.628
    "ES": ("21", 2592),
    "FI": ("25.5", 3148),  # 31.47975
    "FR": ("20", 2469),
    "GR": ("24", 2963),
    "HR": ("25", 3086),
    "HU": ("27", 3333),  # 33.3315
    "IE": ("23", 2839),  # 28.3935
    "IT": ("22", 2716),  # 27.159
    "LT": ("21", 2592),
    "LU": ("17", 2099),  # 20.9865
    "LV": ("21", 2592),
    "MT": ("18", 2222),  # 22.221
    "NL": ("21", 2592),
    "PL": ("23", 2839),
    "PT": ("23", 2839),
    "RO": ("21", 2592),
    "SE": ("25", 3086),
    "SI": ("22", 2716),
    "SK": ("23", 2839),
    "GB": ("20", 2469),
    "CH": ("8.1", 1000),  # 9.99945
    "LI": ("8.1", 1000),
    "NO": ("25", 3086),
}
CURRENCY = {"GB": "GBP", "CH": "CHF", "LI": "CHF", "NO": "NOK"}


def test_every_jurisdiction_with_a_worked_amount(billing, tax):
    """A consumer in each of the 31 jurisdictions buys 123.45 of SaaS from a French seller
    with the Union OSS and registrations in GB, CH and NO: each pays its country's rate."""
    seller = FRENCH_SELLER + (
        "    - {jurisdiction: GB, number: GB123456789, valid_from: 2021-01-01}\n"
        "    - {jurisdiction: CH, number: CHE123456789, valid_from: 2018-01-01}\n"
        '    - {jurisdiction: "NO", number: VOEC2060001, valid_from: 2020-04-01}\n'
    )
    billing.push(tax_rules(seller))
    worked = {}
    for country in STANDARD_ON_123_45:
        q = quote(billing, tax, country, (12345, "saas"), currency=CURRENCY.get(country, "EUR"))
        ((jurisdiction, treatment, rate_name, percent, taxable, tax_minor),) = taxes(q)
        assert (jurisdiction, treatment, rate_name, taxable) == (
            country,
            "taxed",
            "standard",
            12345,
        )
        assert q.taxes[0].source
        assert q.taxes[0].rule_entry.split(":")[0] in {"tax_eu.yaml", "tax_europe.yaml"}
        worked[country] = (percent, tax_minor)
    assert worked == STANDARD_ON_123_45


def test_the_shipped_files_list_the_27_member_states_and_every_rate_with_its_source():
    rule_set = load_rule_set_from_files(tax_rules(FRENCH_SELLER), load_engines().by_kind)
    listed = rule_set.tax.jurisdictions
    assert {code for code, j in listed.items() if j.engine == "eu_vat"} == MEMBER_STATES
    assert {code: j.engine for code, j in listed.items() if j.engine != "eu_vat"} == {
        "GB": "uk_vat",
        "CH": "ch_vat",
        "LI": "ch_vat",
        "NO": "no_vat",
    }
    for jurisdiction in listed.values():
        assert jurisdiction.rate_on("standard", date(2021, 1, 1)) is not None, jurisdiction.code
        for rate in jurisdiction.rates:
            assert len(rate.source) > 10, (jurisdiction.code, rate)
            assert rate.entry.startswith(("tax_eu.yaml: ", "tax_europe.yaml: "))


# --- a rate change on a date -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("on", "standard", "reduced"),
    [
        (date(2020, 6, 30), ("19", 1900), ("7", 70)),
        (date(2020, 7, 1), ("16", 1600), ("5", 50)),
        (date(2020, 12, 31), ("16", 1600), ("5", 50)),
        (date(2021, 1, 1), ("19", 1900), ("7", 70)),
    ],
)
def test_german_vat_before_on_and_after_the_2020_cut(billing, tax, on, standard, reduced):
    billing.push(tax_rules(GERMAN_SELLER))
    q = quote(billing, tax, "DE", (10000, "saas"), (1000, "ebook"), on=on)
    assert taxes(q) == [
        ("DE", "taxed", "standard", standard[0], 10000, standard[1]),
        ("DE", "taxed", "reduced", reduced[0], 1000, reduced[1]),
    ]
    assert q.taxes[0].tax_point == date_pb2.Date(year=on.year, month=on.month, day=on.day)


def test_rate_changes_across_the_union(billing, tax):
    """A French seller with the Union OSS (from 2021-07-01) and, before it, a direct
    registration in Ireland: each consumer pays its own country's rate of the day."""
    billing.push(tax_rules(FRENCH_SELLER + IRISH_REGISTRATION))
    rates = {
        (country, on.isoformat()): quote(billing, tax, country, (10000, "saas"), on=on)
        .taxes[0]
        .percent
        for country, on in [
            ("IE", date(2020, 8, 31)),
            ("IE", date(2020, 9, 1)),
            ("IE", date(2021, 3, 1)),
            ("LU", date(2023, 1, 1)),
            ("LU", date(2024, 1, 1)),
            ("CZ", date(2024, 1, 1)),
            ("EE", date(2023, 12, 31)),
            ("EE", date(2024, 1, 1)),
            ("EE", date(2025, 7, 1)),
            ("FI", date(2024, 8, 31)),
            ("FI", date(2024, 9, 1)),
            ("SK", date(2025, 1, 1)),
            ("RO", date(2025, 8, 1)),
        ]
    }
    assert rates == {
        ("IE", "2020-08-31"): "23",
        ("IE", "2020-09-01"): "21",
        ("IE", "2021-03-01"): "23",
        ("LU", "2023-01-01"): "16",
        ("LU", "2024-01-01"): "17",
        ("CZ", "2024-01-01"): "21",
        ("EE", "2023-12-31"): "20",
        ("EE", "2024-01-01"): "22",
        ("EE", "2025-07-01"): "24",
        ("FI", "2024-08-31"): "24",
        ("FI", "2024-09-01"): "25.5",
        ("SK", "2025-01-01"): "23",
        ("RO", "2025-08-01"): "21",
    }


def test_the_tax_point_moves_a_transition_invoice():
    """Germany takes the rate of the supply's date (tax_point: period_start), Ireland the
    invoice's: the same dates give different rates. Through compute_tax, the one door that
    invoices and previews use (a QuoteTax line has no service period)."""
    seller = """
  country: DE
  registrations:
    - {jurisdiction: DE, number: DE136695976, valid_from: 2015-01-01}
    - {jurisdiction: IE, number: IE6388047V, valid_from: 2015-01-01}
"""
    rule_set = load_rule_set_from_files(tax_rules(seller), load_engines().by_kind)
    engines = dict(load_engines().by_kind["tax_engine"])
    assert rule_set.tax.seller is not None

    def rate(country: str, invoiced: date, period_start: date) -> tuple[str, date | None]:
        line = TaxableLine(0, 10000, "saas", period_start=period_start)
        request = TaxRequest("EUR", rule_set.tax.seller, Buyer(Place(country)), (line,), invoiced)
        (amount,) = compute_tax(rule_set.tax, engines, request).amounts
        return str(amount.percent), amount.tax_point

    # June's service invoiced on 1 July: 19%, the supply's date, not the invoice's 16%.
    assert rate("DE", date(2020, 7, 1), date(2020, 6, 1)) == ("19", date(2020, 6, 1))
    # July's service invoiced in advance on 30 June: 16%.
    assert rate("DE", date(2020, 6, 30), date(2020, 7, 1)) == ("16", date(2020, 7, 1))
    # December's service invoiced on 4 January 2021: still 16%.
    assert rate("DE", date(2021, 1, 4), date(2020, 12, 1)) == ("16", date(2020, 12, 1))
    # Ireland: August's service invoiced on 1 September 2020 is at the invoice date's 21%.
    assert rate("IE", date(2020, 9, 1), date(2020, 8, 1)) == ("21", date(2020, 9, 1))


# --- UK, Switzerland and Liechtenstein, Norway ---------------------------------------------------


def test_united_kingdom(billing, tax):
    billing.push(tax_rules(US_SELLER_WITH_NON_UNION_OSS))
    consumer = quote(billing, tax, "GB", (10000, "saas"), (999, "ebook"), currency="GBP")
    assert totals(consumer) == (10999, 2000, 12999)
    assert taxes(consumer) == [
        ("GB", "taxed", "standard", "20", 10000, 2000),
        ("GB", "zero_rated", "", "0", 999, 0),
    ]
    business = quote(
        billing, tax, "GB", (10000, "saas"), business_id=("gb_vat", "GB980780684"), currency="GBP"
    )
    assert taxes(business) == [("GB", "reverse_charge", "", "0", 10000, 0)]
    assert list(business.notes) == [
        "Reverse charge: the customer accounts for the VAT to HMRC (section 8, VAT Act 1994)"
    ]


@pytest.mark.parametrize(
    ("country", "on", "percent", "tax_minor"),
    [
        ("CH", date(2023, 12, 31), "7.7", 770),
        ("CH", date(2024, 1, 1), "8.1", 810),
        ("LI", date(2024, 1, 1), "8.1", 810),
    ],
)
def test_switzerland_and_liechtenstein(billing, tax, country, on, percent, tax_minor):
    billing.push(tax_rules(US_SELLER_WITH_NON_UNION_OSS))
    q = quote(billing, tax, country, (10000, "professional_service"), currency="CHF", on=on)
    assert taxes(q) == [(country, "taxed", "standard", percent, 10000, tax_minor)]


def test_norway_voec_and_reverse_charge(billing, tax):
    billing.push(tax_rules(US_SELLER_WITH_NON_UNION_OSS))
    consumer = quote(billing, tax, "NO", (19900, "saas"), currency="NOK")
    assert totals(consumer) == (19900, 4975, 24875)
    business = quote(
        billing,
        tax,
        "NO",
        (19900, "saas"),
        business_id=("no_vat", "NO974760673MVA"),
        currency="NOK",
    )
    assert taxes(business) == [("NO", "reverse_charge", "", "0", 19900, 0)]
