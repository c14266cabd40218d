"""The InvoiceMailer the use cases ask for: render the invoice's PDF and email it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from billing.app.ports import DeliveryError, MailEnvelope
from billing.delivery._settings import SmtpSettings
from billing.delivery._smtp import DeliveryFailed, reference_message_id, send_invoice_email
from billing.documents import Seller, invoice_document, render_pdf
from billing.domain.customers import Customer, TaxId
from billing.domain.invoices import Invoice
from billing.domain.tax import TaxRules
from billing.rules.model import InvoicingRules, RuleSet


class SmtpInvoiceMailer:
    def __init__(self, settings: SmtpSettings, template_dir: Path) -> None:
        self._settings = settings
        self._template_dir = template_dir

    def message_id(self, reference: str) -> str:
        return reference_message_id(self._settings, reference)

    async def send(
        self, invoice: Invoice, customer: Customer, rules: RuleSet, envelope: MailEnvelope
    ) -> str:
        inv = rules.invoicing
        seller = seller_of(inv, rules.tax)
        issued = invoice.finalized_at or invoice.created_at
        document = invoice_document(
            invoice,
            customer,
            seller,
            number=invoice.number or invoice.id,
            issued_at=issued,
            show_explanations=inv.show_explanations,
        )
        pdf = await asyncio.to_thread(render_pdf, document, self._template_dir)
        number = invoice.number or invoice.id
        try:
            return await send_invoice_email(
                self._settings,
                customer.fields.email,
                f"Invoice {number}",
                f"Please find invoice {number} attached.",
                pdf,
                f"{number}.pdf",
                message_id=envelope.message_id,
                date=envelope.date,
            )
        except DeliveryFailed as failure:
            raise DeliveryError(str(failure), permanent=failure.permanent) from failure


def seller_of(invoicing: InvoicingRules, tax: TaxRules) -> Seller:
    """The seller as documents print it: the invoicing rules' name, address and legal text,
    and the tax rules' tax ids (ADR 0033)."""
    tax_ids = tax.seller.tax_ids if tax.seller is not None else ()
    return Seller(
        invoicing.seller_name or tax.seller_name or "Billing",
        invoicing.seller_address,
        invoicing.seller_legal_text,
        tax_ids=tuple(TaxId(kind, value) for kind, value in tax_ids),
    )
