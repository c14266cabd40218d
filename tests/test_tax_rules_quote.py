"""The third-party jurisdiction through the public API, on SQLite and PostgreSQL: the rule set
of rules/examples/tax_iceland (its engine from the installed plugins/example-tax) is pushed,
and QuoteTax prices an Icelandic customer's cart with exact krónur, rule entries and sources."""

from __future__ import annotations

import grpc
import pytest
from google.type import date_pb2

from billing_client.v1 import customers_pb2, money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing
from conftest import REPO_RULES, Tenant, rule_files

EXAMPLE = REPO_RULES / "examples" / "tax_iceland"
APRIL_1 = date_pb2.Date(year=2026, month=4, day=1)
STANDARD = "Act No. 50/1988 on Value Added Tax, art. 14(1), as amended by Act No. 124/2014"
REDUCED = "Act No. 50/1988 on Value Added Tax, art. 14(2), as amended by Act No. 124/2014"


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Tenant) -> Billing:
    b = Billing(channel, tenant.metadata)
    b.push(rule_files(EXAMPLE))
    return b


@pytest.fixture
def tax(channel: grpc.Channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def isk(amount: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code="ISK", amount_minor=amount)


def test_an_icelandic_consumer_is_quoted_icelandic_vat(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    quote = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=tax_pb2.QuoteBuyer(country="IS"),
            lines=[
                tax_pb2.QuoteLine(plan="plans/hosting_monthly"),  # 2 480 with VAT
                tax_pb2.QuoteLine(plan="plans/library_monthly"),  # 1 110 with VAT
                tax_pb2.QuoteLine(amount=isk(1000), tax_code="saas", inclusive=False),
            ],
            date=APRIL_1,
            currency_code="ISK",
        ),
        metadata=billing.metadata,
    )
    assert quote.jurisdiction == "IS"
    assert [
        (q.net.amount_minor, q.tax.amount_minor, q.gross.amount_minor, q.tax_code, q.inclusive)
        for q in quote.lines
    ] == [
        (2000, 480, 2480, "saas", True),
        (1000, 110, 1110, "ebook", True),
        (1000, 240, 1240, "saas", False),
    ]
    assert (quote.net.amount_minor, quote.tax.amount_minor, quote.gross.amount_minor) == (
        4000,
        830,
        4830,
    )
    assert quote.net.currency_code == "ISK"
    assert sorted(
        (
            t.jurisdiction,
            t.tax_name,
            t.treatment,
            t.rate_name,
            t.percent,
            t.taxable.amount_minor,
            t.tax.amount_minor,
            t.rule_entry,
            t.source,
        )
        for t in quote.taxes
    ) == [
        ("IS", "VAT", "taxed", "reduced", "11", 1000, 110,
         "tax.yaml: jurisdictions[IS].rates[3]", REDUCED),
        ("IS", "VAT", "taxed", "standard", "24", 3000, 720,
         "tax.yaml: jurisdictions[IS].rates[1]", STANDARD),
    ]  # fmt: skip
    assert list(quote.notes) == []


def test_an_icelandic_business_buying_after_the_registration_ends_is_reverse_charged(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    # The example's registration has no end; this rule set ends it on 2026-01-01. A quote
    # cannot ask a registry, so the buyer's VAT number counts only if the format is trusted.
    files = rule_files(EXAMPLE)
    files["tax.yaml"] = (
        files["tax.yaml"]
        .replace(b"valid_from: 2020-01-01}", b"valid_from: 2020-01-01, valid_until: 2026-01-01}")
        .replace(b"unknown_tax_id: charge", b"unknown_tax_id: trust_format")
    )
    billing.push(files)
    quote = tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=tax_pb2.QuoteBuyer(
                country="IS",
                customer_type=tax_pb2.QuoteBuyer.BUSINESS,
                tax_ids=[customers_pb2.TaxId(type="is_vat", value="123456")],
            ),
            lines=[tax_pb2.QuoteLine(amount=isk(1000), tax_code="saas", inclusive=False)],
            date=APRIL_1,
            currency_code="ISK",
        ),
        metadata=billing.metadata,
    )
    assert (quote.net.amount_minor, quote.tax.amount_minor, quote.gross.amount_minor) == (
        1000,
        0,
        1000,
    )
    [reverse] = quote.taxes
    assert (reverse.treatment, reverse.taxable.amount_minor, reverse.tax.amount_minor) == (
        "reverse_charge",
        1000,
        0,
    )
    assert list(quote.notes) == [
        "Reverse charge: the buyer accounts for the VAT (Act No. 50/1988 on Value Added Tax)"
    ]
