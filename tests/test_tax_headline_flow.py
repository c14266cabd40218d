"""The issue's headline cases end to end: the shipped European rates and the built-in eu_vat
engine, a subscription's first invoice through the public API, and (for the reverse charge)
the PDF the customer is emailed. Both databases."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import grpc
from google.type import postal_address_pb2

from billing_client.v1 import customers_pb2
from billing_fixtures import Billing
from conftest import REPO_RULES, Database, ThreadedServer, auth, make_token, server_settings
from test_delivery import SENDER, Inbox, Server, start
from test_invoice_delivery import _pdf_text

RC_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient "
    "(Article 196, Council Directive 2006/112/EC)"
)
CATALOG = b"""kind: catalog
products:
  - {code: app, name: App, tax_code: saas}
plans:
  - code: app_monthly
    name: App
    product: app
    interval: month
    prices: [{currency: EUR, amount: 100.00}]
"""
FRENCH_SELLER = """
  name: Exemple SAS
  country: FR
  tax_ids: [{type: eu_vat, value: FR40303265045}]
  registrations:
    - {jurisdiction: FR, number: FR40303265045, valid_from: 2020-01-01}
    - {jurisdiction: EU-OSS, number: FR40303265045, valid_from: 2021-07-01}
"""
US_SELLER = """
  name: Example Inc.
  country: US
  registrations:
    - {jurisdiction: EU-NONUNION-OSS, number: EU372000041, valid_from: 2021-07-01}
"""


# The shipped tax codes, which the shipped rates map.
_SHIPPED = (REPO_RULES / "tax.yaml").read_bytes()
SHIPPED_TAX_CODES = _SHIPPED[_SHIPPED.index(b"\ntax_codes:") :]


def files(seller: str) -> dict[str, bytes]:
    tax = f"""kind: tax
policy: {{enabled: true, rounding: line, default_tax_code: saas, unknown_tax_id: trust_format}}
seller:{seller}
"""
    return {
        "catalog.yaml": CATALOG,
        "money.yaml": b"kind: money\nrounding: half_up\n",
        "invoicing.yaml": b"kind: invoicing\ntime_zone: utc\n",
        "tax.yaml": tax.encode() + SHIPPED_TAX_CODES,
        "tax_eu.yaml": (REPO_RULES / "tax_eu.yaml").read_bytes(),
    }


@contextmanager
def seller_server(database: Database, seller: str) -> Iterator[tuple[Billing, Server]]:
    mail = start(Inbox())
    smtp = next(mail)
    settings = server_settings(
        database.async_url,
        smtp_url=f"smtp://127.0.0.1:{smtp.port}?from={SENDER}&starttls=false",
        templates_dir="rules/templates",
    )
    running = ThreadedServer(settings)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            billing = Billing(channel, auth(make_token("t_headline")))
            billing.push(files(seller))
            yield billing, smtp
    finally:
        running.stop()
        mail.close()


def first_invoice(billing: Billing, country: str, *, business_vat: str = ""):  # type: ignore[no-untyped-def]
    clock = billing.clock("2026-04-01T00:00:00Z")
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Kunde GmbH" if business_vat else "Alex",
                currency_code="EUR",
                email="ap@kunde.example",
                clock=clock.name,
                customer_type=customers_pb2.BUSINESS if business_vat else customers_pb2.CONSUMER,
                tax_ids=[customers_pb2.TaxId(type="eu_vat", value=business_vat)]
                if business_vat
                else [],
                billing_address=postal_address_pb2.PostalAddress(
                    region_code=country, address_lines=["Hauptstr. 1"], locality="Berlin"
                ),
            ),
            request_id=f"c-{country}-{business_vat}",
        ),
        metadata=billing.metadata,
    )
    sub = billing.subscribe(customer, "app_monthly")
    [invoice] = billing.invoices_of(sub)
    return invoice


def test_a_german_business_buying_from_a_french_seller_is_reverse_charged_on_the_pdf(
    make_database, backend
):
    with seller_server(make_database(backend), FRENCH_SELLER) as (billing, smtp):
        invoice = first_invoice(billing, "DE", business_vat="DE811907980")
        [tax] = invoice.taxes
        assert (tax.jurisdiction, tax.treatment, tax.tax.amount_minor) == (
            "DE",
            "reverse_charge",
            0,
        )
        assert tax.taxable.amount_minor == 10000
        assert (invoice.subtotal.amount_minor, invoice.tax.amount_minor) == (10000, 0)
        assert invoice.total.amount_minor == 10000
        assert list(invoice.tax_notes) == [RC_NOTE]
        text = " ".join(_pdf_text(smtp).split())
        assert "Article 196" in text
        assert "DE811907980" in text and "FR40303265045" in text


def test_a_german_consumer_buying_from_a_us_seller_pays_german_vat_through_oss(
    make_database, backend
):
    with seller_server(make_database(backend), US_SELLER) as (billing, _):
        invoice = first_invoice(billing, "DE")
        [tax] = invoice.taxes
        assert (tax.jurisdiction, tax.treatment, tax.percent) == ("DE", "taxed", "19")
        assert (invoice.subtotal.amount_minor, invoice.tax.amount_minor) == (10000, 1900)
        assert invoice.total.amount_minor == 11900


def test_a_french_consumer_buying_from_a_french_seller_pays_french_vat(make_database, backend):
    with seller_server(make_database(backend), FRENCH_SELLER) as (billing, _):
        invoice = first_invoice(billing, "FR")
        [tax] = invoice.taxes
        assert (tax.jurisdiction, tax.percent, tax.tax.amount_minor) == ("FR", "20", 2000)
        assert invoice.total.amount_minor == 12000
