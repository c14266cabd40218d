"""The tax ledger and GetTaxReport through the public API, on both databases (ADR 0033): a taxed
invoice, a partial credit note, a void, and the report netting them exactly.

The invoice's tax line is put on the draft in the database, as the tax calculation would
write it (a TAX line whose derivation is the TaxAmount), so these tests hold whatever the
engines decide; FinalizeInvoice, CreateCreditNote, VoidInvoice and GetTaxReport are the
public calls."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from decimal import Decimal

import grpc
import pytest
from google.type import date_pb2

from billing.domain.subscriptions import LineKind, exact_line, settle
from billing.domain.tax import TaxAmount, Treatment
from billing.domain.tax_ledger import tax_amount_to_dict
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import customers_pb2, money_pb2, tax_pb2_grpc, tax_reports_pb2
from billing_client.v1 import invoices_pb2 as ip
from billing_fixtures import Billing, rules
from conftest import Server
from grpc_helpers import field_violations

VAT = TaxAmount("DE", "VAT", Treatment.TAXED, "standard", Decimal(19), 10000, 1900, (0,))


@pytest.fixture
def billing(channel, tenant) -> Billing:
    return Billing(channel, tenant.metadata)


@pytest.fixture
def reports(channel) -> tax_pb2_grpc.TaxServiceStub:
    return tax_pb2_grpc.TaxServiceStub(channel)


def rid() -> str:
    return uuid.uuid4().hex


def day(y: int, m: int, d: int) -> date_pb2.Date:
    return date_pb2.Date(year=y, month=m, day=d)


def add_tax_line(server: Server, tenant_id: str, invoice_name: str, tax: TaxAmount) -> None:
    """The draft with a TAX line, as the tax calculation leaves it before finalization."""
    invoice_id = invoice_name.removeprefix("invoices/")

    async def main() -> None:
        engine = create_engine(server.database.async_url)
        try:
            async with SqlStore(engine).write(None) as tx:
                draft = await tx.invoices.get(tenant_id, invoice_id, lock=True)
                assert draft is not None
                period = (draft.period_start, draft.period_end)
                line = exact_line(
                    "VAT 19%", tax.tax_minor, draft.currency, period, LineKind.TAX, {}
                )
                line = replace(line, derivation=tax_amount_to_dict(tax))
                lines = (*draft.lines, line)
                taxed = replace(draft, lines=lines, settlement=settle(lines, 0))
                assert await tx.invoices.replace(tenant_id, taxed, draft.version)
        finally:
            await engine.dispose()

    asyncio.run(main())


def taxed_invoice(billing: Billing, server: Server, tenant, *taxes: TaxAmount) -> ip.Invoice:
    billing.push(rules())
    clock = billing.clock("2026-03-02T10:00:00Z")
    customer = billing.customers.CreateCustomer(
        customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Käufer", currency_code="EUR", time_zone="UTC", clock=clock.name
            ),
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )
    draft = billing.invoices.CreateInvoice(
        ip.CreateInvoiceRequest(customer=customer.name, request_id=rid()),
        metadata=billing.metadata,
    )
    billing.invoices.AddInvoiceLine(
        ip.AddInvoiceLineRequest(
            invoice=draft.name, description="Consulting", unit_amount="100.00", request_id=rid()
        ),
        metadata=billing.metadata,
    )
    for tax in taxes:
        add_tax_line(server, tenant.id, draft.name, tax)
    return billing.invoices.FinalizeInvoice(
        ip.FinalizeInvoiceRequest(name=draft.name, request_id=rid()), metadata=billing.metadata
    )


def credit(billing: Billing, invoice: ip.Invoice, amount_minor: int) -> ip.CreditNote:
    return billing.invoices.CreateCreditNote(
        ip.CreateCreditNoteRequest(
            invoice=invoice.name,
            amount=money_pb2.Money(currency_code="EUR", amount_minor=amount_minor),
            reason="partial refund",
            request_id=rid(),
        ),
        metadata=billing.metadata,
    )


def march(billing: Billing, reports, **filters: str) -> tax_reports_pb2.TaxReport:
    return reports.GetTaxReport(
        tax_reports_pb2.GetTaxReportRequest(
            start_date=day(2026, 3, 1), end_date=day(2026, 4, 1), **filters
        ),
        metadata=billing.metadata,
    )


def figures(row: tax_reports_pb2.TaxReportRow) -> tuple[object, ...]:
    return (
        row.jurisdiction, row.tax_name, row.treatment, row.percent, row.currency_code,
        row.invoiced_taxable.amount_minor, row.invoiced_tax.amount_minor,
        row.credited_taxable.amount_minor, row.credited_tax.amount_minor,
        row.voided_taxable.amount_minor, row.voided_tax.amount_minor,
        row.net_taxable.amount_minor, row.net_tax.amount_minor,
    )  # fmt: skip


def test_a_partial_credit_note_reverses_tax_and_the_report_nets_it(
    billing, reports, server, tenant
):
    invoice = taxed_invoice(billing, server, tenant, VAT)
    assert invoice.total.amount_minor == 11900

    note = credit(billing, invoice, 5000)

    # 50.00 of 119.00: tax 5000 x 1900 / 11900 = 798.32 -> 798, base 4201.68 -> 4202; the
    # net is the rest, 42.02, and net + tax is the note's amount.
    assert (note.amount.amount_minor, note.tax.amount_minor) == (5000, 798)
    [reversed_] = note.taxes
    assert (reversed_.jurisdiction, reversed_.percent, reversed_.treatment) == ("DE", "19", "taxed")
    assert (reversed_.taxable.amount_minor, reversed_.tax.amount_minor) == (4202, 798)
    assert reversed_.tax.currency_code == "EUR"

    [row] = march(billing, reports).rows
    assert figures(row) == (
        "DE", "VAT", "taxed", "19", "EUR",
        10000, 1900, -4202, -798, 0, 0, 5798, 1102,
    )  # fmt: skip

    # Voiding reverses what the note left: the period nets to nothing.
    billing.invoices.VoidInvoice(
        ip.VoidInvoiceRequest(name=invoice.name, request_id=rid()), metadata=billing.metadata
    )
    [row] = march(billing, reports).rows
    assert figures(row)[5:] == (10000, 1900, -4202, -798, -5798, -1102, 0, 0)


def test_notes_that_credit_the_whole_invoice_reverse_exactly_its_tax(
    billing, reports, server, tenant
):
    invoice = taxed_invoice(billing, server, tenant, VAT)
    taxes = [credit(billing, invoice, amount).tax.amount_minor for amount in (3967, 3967, 3966)]
    assert taxes == [633, 634, 633]
    [row] = march(billing, reports).rows
    assert (row.net_taxable.amount_minor, row.net_tax.amount_minor) == (0, 0)


def test_a_reverse_charge_books_its_base_at_zero_tax(billing, reports, server, tenant):
    reverse = TaxAmount(
        "DE", "VAT", Treatment.REVERSE_CHARGE, "standard", Decimal(0), 10000, 0, (0,),
        note="Reverse charge",
    )  # fmt: skip
    invoice = taxed_invoice(billing, server, tenant, reverse)
    note = credit(billing, invoice, 2500)
    assert (note.tax.amount_minor, note.taxes[0].taxable.amount_minor) == (0, 2500)
    [row] = march(billing, reports, jurisdiction="DE", currency_code="EUR").rows
    assert figures(row)[2:] == (
        "reverse_charge", "0", "EUR", 10000, 0, -2500, 0, 0, 0, 7500, 0,
    )  # fmt: skip


def test_an_untaxed_invoice_writes_no_tax(billing, reports, server, tenant):
    invoice = taxed_invoice(billing, server, tenant)
    note = credit(billing, invoice, 1000)
    assert (note.tax.amount_minor, list(note.taxes)) == (0, [])
    assert list(march(billing, reports).rows) == []


def test_a_bad_report_request_names_its_fields(billing, reports):
    with pytest.raises(grpc.RpcError) as caught:
        reports.GetTaxReport(
            tax_reports_pb2.GetTaxReportRequest(
                start_date=day(2026, 4, 1), end_date=day(2026, 2, 30), jurisdiction="de"
            ),
            metadata=billing.metadata,
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field_violations(caught.value) == {
        "end_date": "must be a valid date in [1970-01-01, 3000-01-01)"
    }
    with pytest.raises(grpc.RpcError) as caught:
        reports.GetTaxReport(
            tax_reports_pb2.GetTaxReportRequest(end_date=day(2026, 3, 1)),
            metadata=billing.metadata,
        )
    assert field_violations(caught.value) == {"start_date": "is required"}
    with pytest.raises(grpc.RpcError) as caught:
        reports.GetTaxReport(
            tax_reports_pb2.GetTaxReportRequest(
                start_date=day(2026, 4, 1), end_date=day(2026, 3, 1), jurisdiction="de"
            ),
            metadata=billing.metadata,
        )
    assert set(field_violations(caught.value)) == {"end_date", "jurisdiction"}


def test_other_tenants_see_none_of_it(billing, reports, server, tenant, other_tenant):
    taxed_invoice(billing, server, tenant, VAT)
    report = reports.GetTaxReport(
        tax_reports_pb2.GetTaxReportRequest(start_date=day(2026, 3, 1), end_date=day(2026, 4, 1)),
        metadata=other_tenant.metadata,
    )
    assert list(report.rows) == []
