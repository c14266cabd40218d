"""Tax on invoice documents (ADR 0033): taxes per rate and jurisdiction with their base, the
legal notes, both parties' tax ids, totals net / tax / gross; in the PDF as in the HTML."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from billing.delivery.mailer import seller_of
from billing.documents import DocumentError, Seller, invoice_document, render_html, render_pdf
from billing.domain.customers import Customer, CustomerFields, PostalAddress, TaxId
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import Line, LineKind, exact_line, settle
from billing.domain.tax import Place, TaxAmount, TaxRules, Treatment
from billing.domain.tax import Seller as TaxSeller
from billing.domain.tax_ledger import tax_amount_to_dict
from billing.rules.model import InvoicingRules
from test_documents import TEMPLATES, pdf_text

ISSUED = datetime(2026, 3, 2, 9, tzinfo=UTC)
PERIOD = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
REVERSE_CHARGE_NOTE = (
    "Reverse charge: VAT to be accounted for by the recipient (Article 196, Directive 2006/112/EC)"
)
SELLER = Seller(
    "Exemple SAS",
    ("1 rue de Rivoli", "75001 Paris", "France"),
    tax_ids=(TaxId("eu_vat", "FR40303265045"),),
)


def fee(amount_minor: int, currency: str = "EUR") -> Line:
    return exact_line("Pro plan", amount_minor, currency, PERIOD, LineKind.RECURRING, {})


def tax_line(amount: TaxAmount, currency: str = "EUR") -> Line:
    line = exact_line(amount.tax_name, amount.tax_minor, currency, PERIOD, LineKind.TAX, {})
    return replace(line, derivation=tax_amount_to_dict(amount))


def taxed_invoice(*lines: Line, currency: str = "EUR") -> Invoice:
    return Invoice(
        id="inv_1",
        customer_id="cus_1",
        subscription_id=None,
        currency=currency,
        status=InvoiceStatus.OPEN,
        billing_reason="manual",
        period_start=PERIOD[0],
        period_end=PERIOD[1],
        lines=lines,
        settlement=settle(lines, 0),
        rule_set="v1",
        created_at=ISSUED,
        finalized_at=ISSUED,
    )


def customer(country: str, vat: str, locale: str = "en-US") -> Customer:
    return Customer(
        id="cus_1",
        fields=CustomerFields(
            display_name="Buyer",
            currency_code="EUR",
            time_zone="Europe/Berlin",
            locale=locale,
            billing_address=PostalAddress(
                region_code=country,
                postal_code="10115",
                locality="Berlin",
                organization="Käufer GmbH",
            ),
            tax_ids=(TaxId("eu_vat", vat),) if vat else (),
        ),
        version=1,
        create_time=ISSUED,
        update_time=ISSUED,
    )


def reverse_charge() -> TaxAmount:
    return TaxAmount(
        "DE", "VAT", Treatment.REVERSE_CHARGE, "standard", Decimal(0), 10000, 0, (0,),
        note=REVERSE_CHARGE_NOTE, tax_point=date(2026, 3, 2),
    )  # fmt: skip


def test_a_reverse_charge_pdf_has_the_note_and_both_vat_ids():
    invoice = taxed_invoice(fee(10000), tax_line(reverse_charge()))
    doc = invoice_document(
        invoice, customer("DE", "DE811907980"), SELLER, number="F-2026-1", issued_at=ISSUED
    )

    text = pdf_text(render_pdf(doc, TEMPLATES))

    assert REVERSE_CHARGE_NOTE in text
    assert "EU VAT: FR40303265045" in text  # the seller's
    assert "EU VAT: DE811907980" in text  # the buyer's
    assert "VAT DE reverse charge €100.00 €0.00" in text  # the base, no tax
    assert "Total net €100.00" in text
    assert "Tax €0.00" in text
    assert "Total gross €100.00" in text
    # The 0 tax line is no line of the table: it shows among the taxes.
    assert [line.description for line in doc.lines] == ["Pro plan"]


def test_taxes_per_rate_and_jurisdiction_with_totals_net_tax_gross():
    # Canada, Quebec: GST 5% and QST 9.975% on 200.00 -> 10.00 + 19.95; 229.95 gross.
    gst = TaxAmount("CA", "GST", Treatment.TAXED, "standard", Decimal(5), 20000, 1000, (0,))
    qst = TaxAmount(
        "CA-QC", "QST", Treatment.TAXED, "standard", Decimal("9.975"), 20000, 1995, (0,)
    )
    invoice = taxed_invoice(
        fee(20000, "CAD"), tax_line(gst, "CAD"), tax_line(qst, "CAD"), currency="CAD"
    )
    doc = invoice_document(
        invoice, customer("CA", "", "fr-CA"), SELLER, number="F-2026-2", issued_at=ISSUED
    )
    assert (doc.subtotal_minor, doc.tax_minor, doc.total_minor) == (20000, 2995, 22995)

    html = render_html(doc, TEMPLATES)
    text = pdf_text(render_pdf(doc, TEMPLATES))

    for needle in ("GST CA", "5%", "QST CA-QC", "9,975%"):
        assert needle in html
    assert "QST CA-QC 9,975% 200,00 $ 19,95 $" in text
    assert "GST CA 5% 200,00 $ 10,00 $" in text
    assert "Total net 200,00 $" in text
    assert "Tax 29,95 $" in text
    assert "Total gross 229,95 $" in text


def test_an_untaxed_document_keeps_its_old_words():
    doc = invoice_document(
        taxed_invoice(fee(10000)), customer("DE", ""), Seller("Acme"), number="A", issued_at=ISSUED
    )
    html = render_html(doc, TEMPLATES)
    assert "Subtotal" in html and "Total net" not in html and "Taxable amount" not in html


def test_the_taxes_must_add_up_to_the_tax():
    invoice = taxed_invoice(fee(10000), tax_line(reverse_charge()))
    doc = invoice_document(invoice, customer("DE", ""), SELLER, number="A", issued_at=ISSUED)
    with pytest.raises(DocumentError, match="sum of the taxes"):
        replace(doc, tax_minor=1)


def test_the_mailer_prints_the_tax_rules_seller_ids():
    tax = TaxRules(
        seller=TaxSeller(Place("FR"), tax_ids=(("eu_vat", "FR40303265045"),)),
        seller_name="Exemple SAS",
    )
    seller = seller_of(InvoicingRules(), tax)
    assert (seller.name, seller.tax_ids) == ("Exemple SAS", (TaxId("eu_vat", "FR40303265045"),))


def test_the_document_shows_the_tax_ids_the_invoice_was_issued_under():
    # The tax lines record both parties' ids at finalization ("type value"); a seller or a
    # customer that changed its ids since does not change the document.
    rc = reverse_charge()
    line = tax_line(rc)
    recorded = {**(line.derivation or {}), "seller_tax_ids": ["eu_vat FR40303265045"],
                "buyer_tax_ids": ["eu_vat DE811907980"]}  # fmt: skip
    invoice = taxed_invoice(fee(10000), replace(line, derivation=recorded))
    today = Seller("Exemple SAS", tax_ids=(TaxId("eu_vat", "FR00000000000"),))
    doc = invoice_document(
        invoice, customer("DE", "DE000000000"), today, number="A", issued_at=ISSUED
    )
    assert doc.seller.tax_ids == (TaxId("eu_vat", "FR40303265045"),)
    assert doc.customer.tax_ids == (TaxId("eu_vat", "DE811907980"),)
