"""Tax from the rules to the report through the public API only, on both databases (ADR
0033): invoices taxed by the built-in flat_rate engine (a subscription's first invoice, its
renewal in a bill run, an exempt one-off invoice), a partial credit note, and
GetTaxReport netting them exactly per jurisdiction and rate."""

from __future__ import annotations

import uuid

import pytest
from google.type import date_pb2, postal_address_pb2

from billing_client.v1 import (
    customers_pb2,
    money_pb2,
    tax_pb2_grpc,
    tax_reports_pb2,
)
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing

CATALOG = """\
kind: catalog
products:
  - {code: app, name: App, tax_code: saas}
plans:
  - code: app_monthly
    name: App
    product: app
    interval: month
    prices: [{currency: EUR, amount: 100.00}]
"""

TAX = """\
kind: tax
policy: {enabled: true, rounding: line, default_tax_code: saas}
seller:
  name: Exemple SAS
  country: FR
  tax_ids: [{type: eu_vat, value: FR40303265045}]
  registrations:
    - {jurisdiction: FR, number: FR40303265045, valid_from: 2000-01-01}
tax_codes:
  - {code: saas, description: Software as a service}
  - {code: training, description: Vocational training}
jurisdictions:
  - code: DE
    name: Germany
    engine: flat_rate
    tax_name: VAT
    rates: [{name: standard, percent: 19, effective_from: 2007-01-01, source: "UStG 12(1)"}]
    tax_codes: {saas: standard, training: exempt}
    settings:
      notes: {exempt: "Exempt from VAT: UStG 4 Nr. 21"}
"""


def files(default_tax_code: str = "saas") -> dict[str, bytes]:
    tax = TAX.replace("default_tax_code: saas", f"default_tax_code: {default_tax_code}")
    return {
        "catalog.yaml": CATALOG.encode(),
        "money.yaml": b"kind: money\nrounding: half_up\n",
        "invoicing.yaml": b"kind: invoicing\ntime_zone: utc\n",
        "tax.yaml": tax.encode(),
    }


def rid() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def taxes(channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def german_customer(billing: Billing, clock) -> customers_pb2.Customer:
    return billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Kunde GmbH",
                currency_code="EUR",
                time_zone="Europe/Berlin",
                clock=clock.name,
                billing_address=postal_address_pb2.PostalAddress(
                    region_code="DE", address_lines=["Hauptstr. 1"], locality="Berlin"
                ),
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )


def report(billing: Billing, taxes, start: tuple[int, int, int], end: tuple[int, int, int]):
    return taxes.GetTaxReport(
        tax_reports_pb2.GetTaxReportRequest(
            start_date=date_pb2.Date(year=start[0], month=start[1], day=start[2]),
            end_date=date_pb2.Date(year=end[0], month=end[1], day=end[2]),
        ),
        metadata=billing.metadata,
    )


def figures(row) -> tuple[object, ...]:
    return (
        row.jurisdiction, row.treatment, row.percent,
        row.invoiced_taxable.amount_minor, row.invoiced_tax.amount_minor,
        row.credited_taxable.amount_minor, row.credited_tax.amount_minor,
        row.net_taxable.amount_minor, row.net_tax.amount_minor,
    )  # fmt: skip


def test_invoices_renewals_and_a_credit_note_net_in_the_report(billing, taxes):
    billing.push(files())
    clock = billing.clock("2026-03-01T09:00:00Z")
    sub = billing.subscribe(german_customer(billing, clock), "app_monthly")
    [march] = billing.invoices_of(sub)
    assert (march.total.amount_minor, march.tax.amount_minor) == (11900, 1900)

    note = billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=march.name,
            amount=money_pb2.Money(currency_code="EUR", amount_minor=5000),
            reason="outage",
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    assert (note.tax.amount_minor, note.taxes[0].taxable.amount_minor) == (798, 4202)

    # The April renewal comes from the bill run (due work, in batches).
    billing.advance(clock, "2026-04-01T09:00:00Z")
    assert [i.tax.amount_minor for i in billing.invoices_of(sub)] == [1900, 1900]

    [in_march] = report(billing, taxes, (2026, 3, 1), (2026, 4, 1)).rows
    assert figures(in_march) == ("DE", "taxed", "19", 10000, 1900, -4202, -798, 5798, 1102)
    [in_april] = report(billing, taxes, (2026, 4, 1), (2026, 5, 1)).rows
    assert figures(in_april) == ("DE", "taxed", "19", 10000, 1900, 0, 0, 10000, 1900)
    [both] = report(billing, taxes, (2026, 3, 1), (2026, 5, 1)).rows
    assert figures(both)[3:] == (20000, 3800, -4202, -798, 15798, 3002)


def test_an_exempt_invoice_books_its_base_and_its_note(billing, taxes):
    billing.push(files(default_tax_code="training"))
    clock = billing.clock("2026-03-10T09:00:00Z")
    customer = german_customer(billing, clock)
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=draft.name, description="Workshop", unit_amount="2500.00", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    invoice = billing.invoices.FinalizeInvoice(
        ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
    )
    [vat] = invoice.taxes
    assert (vat.treatment, vat.tax.amount_minor, vat.taxable.amount_minor) == (
        "exempt",
        0,
        250000,
    )
    assert vat.note == "Exempt from VAT: UStG 4 Nr. 21"

    [row] = report(billing, taxes, (2026, 3, 1), (2026, 4, 1)).rows
    assert figures(row) == ("DE", "exempt", "0", 250000, 0, 0, 0, 250000, 0)
