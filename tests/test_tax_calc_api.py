"""The tax arithmetic through the public API (QuoteTax, real channel, SQLite and PostgreSQL),
with a `kind: tax` rule set and the built-in `flat_rate` engine: worked amounts per rate, a
rate change on a date, the 10-line invoice under line and invoice rounding, inclusive prices
under tax_first and net_first, exemptions by tax code, and the errors of rules that cannot
tax. The figures are docs/tax.md's."""

from __future__ import annotations

import grpc
import pytest
from google.type import date_pb2

from billing_client.v1 import customers_pb2, money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import Tenant
from grpc_helpers import error_info, field_violations

GERMAN_VAT = """
  - code: DE
    name: Germany
    engine: flat_rate
    tax_name: VAT
    tax_point: invoice_date
    rates:
      - {name: standard, percent: 19, effective_from: 2007-01-01, source: "UStG §12(1)"}
      - {name: standard, percent: 16, effective_from: 2020-07-01, source: "UStG §28(1), Zweites Corona-Steuerhilfegesetz"}
      - {name: standard, percent: 19, effective_from: 2021-01-01, source: "UStG §12(1)"}
      - {name: reduced, percent: 7, effective_from: 2007-01-01, source: "UStG §12(2)"}
    tax_codes: {ebook: reduced, exempt: exempt}
    settings:
      notes: {exempt: "Steuerfreie Leistung"}
  - code: GB
    name: United Kingdom
    engine: flat_rate
    tax_name: VAT
    tax_point: invoice_date
    rates:
      - {name: standard, percent: 20, effective_from: 2011-01-04, source: "VATA 1994 s.2"}
  - code: "NO"
    name: Norway
    engine: flat_rate
    tax_name: VAT
    tax_point: invoice_date
    rates:
      - {name: standard, percent: 18, effective_from: 2030-01-01, source: "a future law"}
"""


def tax_file(rounding: str = "line", inclusive_rounding: str = "tax_first") -> str:
    return f"""kind: tax
policy:
  enabled: true
  rounding: {rounding}
  inclusive_rounding: {inclusive_rounding}
  prices_include_tax: false
  default_tax_code: saas
seller:
  name: Beispiel GmbH
  country: DE
  tax_ids: [{{type: eu_vat, value: DE136695976}}]
  registrations:
    - {{jurisdiction: DE, number: DE136695976, valid_from: 2020-01-01}}
tax_codes:
  - {{code: saas, description: Software as a service}}
  - {{code: ebook, description: Electronic books}}
  - {{code: exempt, description: Exempt supplies}}
jurisdictions:{GERMAN_VAT}"""


def push(billing: Billing, **policy: str) -> None:
    billing.push({**rules(), "tax.yaml": tax_file(**policy).encode()})


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    push(b)
    return b


@pytest.fixture
def tax(channel: grpc.Channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def eur(minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="EUR", amount_minor=minor)


def day(text: str) -> date_pb2.Date:
    year, month, dom = (int(part) for part in text.split("-"))
    return date_pb2.Date(year=year, month=month, day=dom)


def quote(
    tax: tax_pb2_grpc.TaxServiceStub,
    billing: Billing,
    lines: list[tax_pb2.QuoteLine],
    country: str = "DE",
    on: str = "2026-03-01",
    currency: str = "EUR",
) -> tax_pb2.TaxQuote:
    return tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=tax_pb2.QuoteBuyer(country=country),
            lines=lines,
            date=day(on),
            currency_code=currency,
        ),
        metadata=billing.metadata,
    )


def amount(minor: int, **fields: object) -> tax_pb2.QuoteLine:
    return tax_pb2.QuoteLine(amount=eur(minor), **fields)  # type: ignore[arg-type]


def test_rates_per_tax_code_with_base_entry_and_source(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    q = quote(
        tax,
        billing,
        [
            amount(1000),  # saas: standard 19%
            amount(1000, tax_code="ebook"),  # reduced 7%
            amount(1190, inclusive=True),  # 11.90 incl. 19%: 10.00 + 1.90
            amount(500, tax_code="exempt"),
        ],
    )
    assert [(x.net.amount_minor, x.tax.amount_minor, x.gross.amount_minor) for x in q.lines] == [
        (1000, 190, 1190),
        (1000, 70, 1070),
        (1000, 190, 1190),
        (500, 0, 500),
    ]
    assert [x.inclusive for x in q.lines] == [False, False, True, False]
    standard, reduced, exempt = q.taxes
    assert (standard.jurisdiction, standard.tax_name, standard.treatment) == ("DE", "VAT", "taxed")
    assert (standard.rate_name, standard.percent) == ("standard", "19")
    assert (standard.taxable.amount_minor, standard.tax.amount_minor) == (2000, 380)
    assert list(standard.line_indexes) == [0, 2]
    assert standard.rule_entry == "tax.yaml: jurisdictions[DE].rates[2]"
    assert standard.source == "UStG §12(1)"
    assert standard.tax_point == day("2026-03-01")
    assert (reduced.percent, reduced.taxable.amount_minor, reduced.tax.amount_minor) == (
        "7",
        1000,
        70,
    )
    assert (exempt.treatment, exempt.percent, exempt.tax.amount_minor) == ("exempt", "0", 0)
    assert exempt.note == "Steuerfreie Leistung"
    assert list(q.notes) == ["Steuerfreie Leistung"]
    assert (q.net.amount_minor, q.tax.amount_minor, q.gross.amount_minor) == (3500, 450, 3950)
    assert q.jurisdiction == "DE"


@pytest.mark.parametrize(
    ("on", "percent", "tax_minor"),
    [
        ("2020-06-30", "19", 190),
        ("2020-07-01", "16", 160),  # the day the cut took effect
        ("2020-12-31", "16", 160),
        ("2021-01-01", "19", 190),  # and the day it ended
    ],
)
def test_rate_change_on_a_date(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub, on: str, percent: str, tax_minor: int
) -> None:
    q = quote(tax, billing, [amount(1000)], on=on)
    assert (q.taxes[0].percent, q.tax.amount_minor) == (percent, tax_minor)
    assert q.taxes[0].tax_point == day(on)


TEN_LINES = [amount(250) for _ in range(6)] + [amount(99, tax_code="ebook") for _ in range(4)]


@pytest.mark.parametrize(
    ("rounding", "per_line", "standard", "total"),
    [
        ("line", [48] * 6 + [7] * 4, 288, 316),
        ("invoice", [47, 47, 47, 48, 48, 48] + [7] * 4, 285, 313),
    ],
)
def test_ten_line_invoice_line_vs_invoice_rounding(
    billing: Billing,
    tax: tax_pb2_grpc.TaxServiceStub,
    rounding: str,
    per_line: list[int],
    standard: int,
    total: int,
) -> None:
    push(billing, rounding=rounding)
    q = quote(tax, billing, TEN_LINES)
    assert [x.tax.amount_minor for x in q.lines] == per_line
    assert [t.tax.amount_minor for t in q.taxes] == [standard, 28]
    assert [t.taxable.amount_minor for t in q.taxes] == [1500, 396]
    assert (q.net.amount_minor, q.tax.amount_minor, q.gross.amount_minor) == (
        1896,
        total,
        1896 + total,
    )


@pytest.mark.parametrize(
    ("inclusive_rounding", "net", "tax_minor"), [("tax_first", 1252, 251), ("net_first", 1253, 250)]
)
def test_inclusive_price_splits_exactly_under_both_choices(
    billing: Billing,
    tax: tax_pb2_grpc.TaxServiceStub,
    inclusive_rounding: str,
    net: int,
    tax_minor: int,
) -> None:
    push(billing, inclusive_rounding=inclusive_rounding)
    gbp = money_pb2.Money(currency_code="GBP", amount_minor=1503)
    q = quote(
        tax, billing, [tax_pb2.QuoteLine(amount=gbp, inclusive=True)], country="GB", currency="GBP"
    )
    (only,) = q.lines
    assert (only.net.amount_minor, only.tax.amount_minor, only.gross.amount_minor) == (
        net,
        tax_minor,
        1503,
    )


def test_a_buyer_where_the_rules_list_no_jurisdiction_pays_no_tax(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    q = quote(tax, billing, [amount(1000)], country="JP")
    assert (q.tax.amount_minor, list(q.taxes), q.jurisdiction) == (0, [], "")


def test_a_customer_is_taxed_where_its_billing_address_is(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Kunde",
                currency_code="EUR",
                billing_address={"region_code": "DE", "postal_code": "10115"},
            ),
            request_id="quote-customer-de-" + billing.metadata[0][1][-12:],
        ),
        metadata=billing.metadata,
    )
    q = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            customer=customer.name, lines=[amount(2500)], date=day("2026-03-01")
        ),
        metadata=billing.metadata,
    )
    assert (q.net.currency_code, q.tax.amount_minor, q.gross.amount_minor) == ("EUR", 475, 2975)
    nowhere = billing.customer()  # USD, no address
    with pytest.raises(grpc.RpcError) as caught:
        tax.QuoteTax(
            tax_pb2.QuoteTaxRequest(
                customer=nowhere.name,
                lines=[tax_pb2.QuoteLine(amount={"currency_code": "USD", "amount_minor": 1})],
            ),
            metadata=billing.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert caught.value.details() == (
        f"{nowhere.name} has no billing address country; tax cannot be placed"
    )


def test_a_rate_missing_on_the_tax_point_is_a_failed_precondition(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        quote(tax, billing, [amount(1000)], country="NO")
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error_info(caught.value).reason == "TAX_RATE_MISSING"
    assert caught.value.details() == (
        "NO has no 'standard' rate in force on 2026-03-01 (the tax point of line 0);"
        " add one to the tax rules"
    )


def test_a_tax_code_the_rules_do_not_list_is_refused(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        quote(tax, billing, [amount(1000, tax_code="spaceship")])
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == {
        "lines[0].tax_code": "'spaceship' is not a tax code of the rules (ebook, exempt, saas)"
    }


CATALOG = b"""kind: catalog
products:
  - {code: books, name: Books, tax_code: ebook}
  - {code: app, name: App}
plans:
  - code: books_monthly
    product: books
    interval: month
    prices: [{currency: EUR, amount: 10.70, tax_behavior: inclusive}]
  - code: app_monthly
    product: app
    interval: month
    prices: [{currency: EUR, price: app_seat_eur}]
plan_changes:
  - timing: immediate
"""
PRICING = b"""kind: pricing
prices:
  - {code: app_seat_eur, name: Seat, model: per_unit, currency: EUR, unit_amount: 11.90, tax_behavior: inclusive}
"""


def test_catalog_lines_take_tax_code_behavior_and_amount_from_the_rules(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    billing.push(
        {
            **rules(),
            "catalog.yaml": CATALOG,
            "pricing.yaml": PRICING,
            "tax.yaml": tax_file().encode(),
        }
    )
    q = quote(
        tax,
        billing,
        [
            tax_pb2.QuoteLine(plan="plans/books_monthly"),  # ebook 7%, 10.70 incl.
            tax_pb2.QuoteLine(plan="plans/app_monthly", quantity="3"),  # 3 x 11.90 incl. 19%
            tax_pb2.QuoteLine(price="prices/app_seat_eur", inclusive=False),  # 11.90 + 19%
            tax_pb2.QuoteLine(plan="plans/books_monthly", tax_code="saas"),  # 10.70 incl. 19%
        ],
    )
    assert [(x.net.amount_minor, x.tax.amount_minor, x.gross.amount_minor) for x in q.lines] == [
        (1000, 70, 1070),
        (3000, 570, 3570),
        (1190, 226, 1416),  # 226.1
        (899, 171, 1070),  # 10.70 / 1.19 = 8.9916 net; tax 1.7084
    ]
    assert [(x.tax_code, x.inclusive) for x in q.lines] == [
        ("ebook", True),
        ("saas", True),
        ("saas", False),
        ("saas", True),
    ]
    assert [(t.rate_name, t.taxable.amount_minor, t.tax.amount_minor) for t in q.taxes] == [
        ("reduced", 1000, 70),
        ("standard", 3000 + 1190 + 899, 570 + 226 + 171),
    ]
