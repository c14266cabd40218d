"""The engines outside Europe through the public API (QuoteTax over a real channel, on SQLite
and PostgreSQL), with the repository's own rates (rules/tax_americas.yaml, rules/tax_apac.yaml)
and a worked amount per jurisdiction family (ADR 0030)."""

from __future__ import annotations

import uuid
from pathlib import Path

import grpc
import pytest
from google.type import date_pb2, postal_address_pb2

from billing_client.v1 import customers_pb2, money_pb2, tax_pb2, tax_pb2_grpc
from billing_fixtures import Billing, rules
from conftest import Tenant
from grpc_helpers import field_violations

RULES = Path(__file__).parents[1] / "rules"
WORLD_FILES = ("tax_americas.yaml", "tax_apac.yaml")
CODES = (
    "saas",
    "digital_service",
    "ebook",
    "professional_service",
    "training",
    "physical_good",
    "exempt",
)


def tax_yaml(country: str, subdivision: str, registrations: tuple[str, ...]) -> bytes:
    listed = "\n".join(
        f"    - {{jurisdiction: {code}, number: N-{code}, valid_from: 2017-01-01}}"
        for code in registrations
    )
    codes = "\n".join(f"  - {{code: {code}, description: {code}}}" for code in CODES)
    return f"""kind: tax
policy:
  enabled: true
  rounding: line
  unknown_tax_id: trust_format
seller:
  name: World Seller
  country: {country}
  subdivision: "{subdivision}"
  registrations:
{listed}
tax_codes:
{codes}
""".encode()


US_ENTRY = (
    b"  - {code: US, name: United States, engine: us_sales_tax, tax_name: sales tax,"
    b" tax_point: invoice_date}\n"
)


def seller(
    billing: Billing, country: str, subdivision: str, *registrations: str, us_provider: str = ""
) -> None:
    files = rules()
    files["tax.yaml"] = tax_yaml(country, subdivision, registrations)
    for name in WORLD_FILES:
        files[name] = (RULES / name).read_bytes()
    if us_provider:
        assert US_ENTRY in files["tax_americas.yaml"]
        files["tax_americas.yaml"] = files["tax_americas.yaml"].replace(
            US_ENTRY, US_ENTRY[:-2] + f", settings: {{provider: {us_provider}}}}}\n".encode()
        )
    billing.push(files)


@pytest.fixture
def billing(channel: grpc.Channel, tenant: Tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def tax(channel: grpc.Channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def quote(
    billing: Billing,
    tax: tax_pb2_grpc.TaxServiceStub,
    where: str,
    currency: str,
    *amounts: int,
    on: str = "2026-03-02",
    business: tuple[str, str] | None = None,
    tax_code: str = "saas",
    inclusive: bool = False,
) -> tax_pb2.TaxQuote:
    country, _, subdivision = where.partition("-")
    buyer = tax_pb2.QuoteBuyer(country=country, subdivision=subdivision)
    if business is not None:
        buyer.customer_type = tax_pb2.QuoteBuyer.BUSINESS
        buyer.tax_ids.append(customers_pb2.TaxId(type=business[0], value=business[1]))
    year, month, day = (int(part) for part in on.split("-"))
    lines = [
        tax_pb2.QuoteLine(
            amount=money_pb2.Money(currency_code=currency, amount_minor=amount),
            tax_code=tax_code,
            inclusive=inclusive,
        )
        for amount in amounts
    ]
    return tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            buyer=buyer,
            lines=lines,
            currency_code=currency,
            date=date_pb2.Date(year=year, month=month, day=day),
        ),
        metadata=billing.metadata,
    )


def create_customer(
    billing: Billing, currency: str, country: str, subdivision: str, **fields: object
) -> customers_pb2.Customer:
    return billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="World Buyer",
                currency_code=currency,
                billing_address=postal_address_pb2.PostalAddress(
                    region_code=country, administrative_area=subdivision
                ),
                **fields,  # type: ignore[arg-type]
            ),
            request_id=uuid.uuid4().hex,
        ),
        metadata=billing.metadata,
    )


def quote_for(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub, customer: customers_pb2.Customer, minor: int
) -> tax_pb2.TaxQuote:
    return tax.QuoteTax(
        tax_pb2.QuoteTaxRequest(
            customer=customer.name,
            lines=[
                tax_pb2.QuoteLine(
                    amount=money_pb2.Money(currency_code=customer.currency_code, amount_minor=minor)
                )
            ],
            date=date_pb2.Date(year=2026, month=3, day=2),
        ),
        metadata=billing.metadata,
    )


def taxes(result: tax_pb2.TaxQuote) -> list[tuple[str, str, str, str, int, int]]:
    return [
        (
            t.jurisdiction,
            t.tax_name,
            t.treatment,
            t.percent,
            t.taxable.amount_minor,
            t.tax.amount_minor,
        )
        for t in result.taxes
    ]


def totals(result: tax_pb2.TaxQuote) -> tuple[int, int, int]:
    return (result.net.amount_minor, result.tax.amount_minor, result.gross.amount_minor)


# --- Canada ---------------------------------------------------------------------------------


def test_canada_ontario_hst_13(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "CA", "ON", "CA")
    result = quote(billing, tax, "CA-ON", "CAD", 10_000)
    assert taxes(result) == [("CA-ON", "HST", "taxed", "13", 10_000, 1_300)]
    assert totals(result) == (10_000, 1_300, 11_300)
    assert result.jurisdiction == "CA-ON"
    assert result.taxes[0].source.startswith("Excise Tax Act s.165(2)")
    assert result.taxes[0].rule_entry == "tax_americas.yaml: jurisdictions[CA-ON].rates[0]"


def test_canada_bc_gst_and_pst_each_on_the_net(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "CA", "ON", "CA", "CA-BC")
    result = quote(billing, tax, "CA-BC", "CAD", 19_999)
    # GST 5% of 199.99 = 9.9995 -> 10.00; PST 7% of 199.99 (not of 209.99) = 13.9993 -> 14.00
    assert taxes(result) == [
        ("CA", "GST", "taxed", "5", 19_999, 1_000),
        ("CA-BC", "PST", "taxed", "7", 19_999, 1_400),
    ]
    assert totals(result) == (19_999, 2_400, 22_399)


def test_canada_quebec_gst_and_qst(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "CA", "ON", "CA", "CA-QC")
    result = quote(billing, tax, "CA-QC", "CAD", 10_000)
    # QST 9.975% of 100.00 = 9.975 -> 9.98 (half up and half even agree)
    assert taxes(result) == [
        ("CA", "GST", "taxed", "5", 10_000, 500),
        ("CA-QC", "QST", "taxed", "9.975", 10_000, 998),
    ]
    assert totals(result) == (10_000, 1_498, 11_498)


def test_canada_customer_billing_address_places_the_supply(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "CA", "ON", "CA", "CA-BC")
    customer = create_customer(billing, "CAD", "CA", "BC")
    result = quote_for(billing, tax, customer, 5_000)
    assert result.jurisdiction == "CA-BC"
    assert taxes(result) == [
        ("CA", "GST", "taxed", "5", 5_000, 250),
        ("CA-BC", "PST", "taxed", "7", 5_000, 350),
    ]
    assert totals(result) == (5_000, 600, 5_600)


def test_canada_bc_subscription_invoice_carries_gst_and_pst_lines(billing: Billing) -> None:
    seller(billing, "CA", "ON", "CA", "CA-BC")
    clock = billing.clock("2026-03-01T09:00:00Z")
    buyer = create_customer(billing, "USD", "CA", "BC", clock=clock.name)
    sub = billing.subscribe(buyer, "basic_monthly")  # 30.00 USD a month
    (invoice,) = billing.invoices_of(sub)
    assert [line.kind for line in invoice.lines] == ["recurring", "tax", "tax"]
    assert [line.amount.amount_minor for line in invoice.lines] == [3_000, 150, 210]
    assert [line.description for line in invoice.lines[1:]] == ["GST 5% (CA)", "PST 7% (CA-BC)"]
    assert (invoice.subtotal.amount_minor, invoice.tax.amount_minor) == (3_000, 360)
    assert invoice.total.amount_minor == 3_360
    assert [(t.jurisdiction, t.tax_name, t.taxable.amount_minor) for t in invoice.taxes] == [
        ("CA", "GST", 3_000),
        ("CA-BC", "PST", 3_000),
    ]


def test_canada_bc_without_a_pst_registration_is_gst_only(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "CA", "ON", "CA")
    assert taxes(quote(billing, tax, "CA-BC", "CAD", 10_000)) == [
        ("CA", "GST", "taxed", "5", 10_000, 500)
    ]


def test_canada_nova_scotia_hst_cut_on_2025_04_01(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "CA", "NS", "CA")
    before = quote(billing, tax, "CA-NS", "CAD", 10_000, on="2025-03-31")
    on = quote(billing, tax, "CA-NS", "CAD", 10_000, on="2025-04-01")
    assert taxes(before) == [("CA-NS", "HST", "taxed", "15", 10_000, 1_500)]
    assert taxes(on) == [("CA-NS", "HST", "taxed", "14", 10_000, 1_400)]


def test_canada_without_a_province_is_refused(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "CA", "ON", "CA")
    with pytest.raises(grpc.RpcError) as caught:
        quote(billing, tax, "CA", "CAD", 10_000)
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "a Canadian address needs its province" in (caught.value.details() or "")


# --- India ------------------------------------------------------------------------------------

GSTIN = ("in_gst", "27AAPFU0939F1ZV")


def test_india_intra_state_cgst_and_sgst(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "IN", "KA", "IN-KA")
    result = quote(billing, tax, "IN-KA", "INR", 100_000, business=GSTIN)
    assert taxes(result) == [
        ("IN", "CGST", "taxed", "9", 100_000, 9_000),
        ("IN", "SGST", "taxed", "9", 100_000, 9_000),
    ]
    assert totals(result) == (100_000, 18_000, 118_000)


def test_india_inter_state_igst(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "IN", "KA", "IN-KA")
    result = quote(billing, tax, "IN-MH", "INR", 100_000, business=GSTIN)
    assert taxes(result) == [("IN", "IGST", "taxed", "18", 100_000, 18_000)]


def test_india_business_customer_with_its_gstin(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "IN", "KA", "IN-KA")
    customer = create_customer(
        billing,
        "INR",
        "IN",
        "MH",
        customer_type=customers_pb2.BUSINESS,
        tax_ids=[customers_pb2.TaxId(type="in_gst", value=GSTIN[1])],
    )
    result = quote_for(billing, tax, customer, 250_000)
    assert taxes(result) == [("IN", "IGST", "taxed", "18", 250_000, 45_000)]


# --- United States ------------------------------------------------------------------------------


def test_us_states(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "US", "DE", "US-WA", "US-TX", "US-CA")
    washington = quote(billing, tax, "US-WA", "USD", 10_000)
    assert taxes(washington) == [("US-WA", "sales tax", "taxed", "6.5", 10_000, 650)]
    texas = quote(billing, tax, "US-TX", "USD", 10_000)  # 80% of SaaS at 6.25%
    assert taxes(texas) == [("US-TX", "sales tax", "taxed", "5", 10_000, 500)]
    california = quote(billing, tax, "US-CA", "USD", 10_000)  # SaaS not taxable
    assert taxes(california) == [("US-CA", "sales tax", "exempt", "0", 10_000, 0)]
    assert california.taxes[0].note == "Not taxable in this state"
    new_york = quote(billing, tax, "US-NY", "USD", 10_000)  # taxable, but no nexus
    assert taxes(new_york) == [("US-NY", "sales tax", "out_of_scope", "0", 10_000, 0)]
    assert new_york.taxes[0].note == "no sales tax nexus"
    assert totals(new_york) == (10_000, 0, 10_000)


def test_us_provider_takes_over_every_state(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    # The built-in flat_rate engine stands in for an address-level provider: it taxes at the
    # state's rate without asking for nexus, so Washington without a registration is taxed.
    seller(billing, "US", "DE", "US-TX", us_provider="flat_rate")
    result = quote(billing, tax, "US-WA", "USD", 10_000)
    assert taxes(result) == [("US-WA", "sales tax", "taxed", "6.5", 10_000, 650)]
    assert result.taxes[0].rule_entry == "tax_americas.yaml: jurisdictions[US-WA].rates[0]"


def test_us_provider_no_plugin_registers_is_refused_at_push(billing: Billing) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        seller(billing, "US", "DE", "US-TX", us_provider="avalara")
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    problems = field_violations(caught.value)
    assert list(problems) == ['files["tax_americas.yaml"].jurisdictions[14].settings']
    message = problems['files["tax_americas.yaml"].jurisdictions[14].settings']
    assert "settings.provider names 'avalara', which no plugin registers (registered: " in message
    assert "flat_rate" in message


def test_us_exemption_certificate_of_the_state(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "US", "DE", "US-WA")
    certificate = customers_pb2.TaxExemption(
        jurisdiction="US-WA",
        reason="resale",
        certificate_id="WA-RESALE-1",
        valid_from=date_pb2.Date(year=2026, month=1, day=1),
    )
    customer = create_customer(
        billing,
        "USD",
        "US",
        "WA",
        customer_type=customers_pb2.BUSINESS,
        tax_exemptions=[certificate],
    )
    result = quote_for(billing, tax, customer, 10_000)
    assert taxes(result) == [("US-WA", "sales tax", "exempt", "0", 10_000, 0)]
    assert result.taxes[0].note == "Exempt: certificate WA-RESALE-1 (resale)"


# --- Asia-Pacific ---------------------------------------------------------------------------------


def test_australia_consumer_taxed_business_not(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "US", "WA", "AU", "NZ", "SG", "JP")
    assert taxes(quote(billing, tax, "AU", "AUD", 10_000)) == [
        ("AU", "GST", "taxed", "10", 10_000, 1_000)
    ]
    b2b = quote(billing, tax, "AU", "AUD", 10_000, business=("au_abn", "51824753556"))
    assert taxes(b2b) == [("AU", "GST", "out_of_scope", "0", 10_000, 0)]
    assert "reverse charge" in b2b.taxes[0].note
    assert list(b2b.notes) == [b2b.taxes[0].note]


def test_new_zealand_15(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "US", "WA", "AU", "NZ", "SG", "JP")
    result = quote(billing, tax, "NZ", "NZD", 12_345)
    # 15% of 123.45 = 18.5175 -> 18.52
    assert taxes(result) == [("NZ", "GST", "taxed", "15", 12_345, 1_852)]
    # a GST-inclusive 115.00 is 100.00 + 15.00 exactly
    inclusive = quote(billing, tax, "NZ", "NZD", 11_500, inclusive=True)
    assert taxes(inclusive) == [("NZ", "GST", "taxed", "15", 10_000, 1_500)]
    assert totals(inclusive) == (10_000, 1_500, 11_500)


def test_singapore_across_the_2024_rise(billing: Billing, tax: tax_pb2_grpc.TaxServiceStub) -> None:
    seller(billing, "US", "WA", "AU", "NZ", "SG", "JP")
    assert taxes(quote(billing, tax, "SG", "SGD", 10_000, on="2023-12-31")) == [
        ("SG", "GST", "taxed", "8", 10_000, 800)
    ]
    assert taxes(quote(billing, tax, "SG", "SGD", 10_000, on="2024-01-01")) == [
        ("SG", "GST", "taxed", "9", 10_000, 900)
    ]
    assert taxes(quote(billing, tax, "SG", "SGD", 10_000, on="2022-12-31")) == [
        ("SG", "GST", "taxed", "7", 10_000, 700)
    ]


def test_japan_consumption_tax_and_b2b_reverse_charge(
    billing: Billing, tax: tax_pb2_grpc.TaxServiceStub
) -> None:
    seller(billing, "US", "WA", "AU", "NZ", "SG", "JP")
    result = quote(billing, tax, "JP", "JPY", 9_800)  # yen have no minor unit
    assert taxes(result) == [("JP", "consumption tax", "taxed", "10", 9_800, 980)]
    b2b = quote(billing, tax, "JP", "JPY", 9_800, business=("jp_cn", "5835678256246"))
    assert taxes(b2b) == [("JP", "consumption tax", "reverse_charge", "0", 9_800, 0)]
    assert "consumption tax to be paid by the recipient" in b2b.taxes[0].note
