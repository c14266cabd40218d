"""Invoice documents: HTML from a template finance edits, and a PDF from the same template.

No gRPC, no database: a frozen `InvoiceDocument` in, text or bytes out.
"""

from billing.documents._format import Formatter, parse_locale, parse_time_zone
from billing.documents._html import INVOICE_TEMPLATE, invoice_context, render_html
from billing.documents._model import (
    MAX_LINES,
    MAX_STEPS,
    BillTo,
    DocumentError,
    DocumentLine,
    DocumentTax,
    InvoiceDocument,
    LineExplanation,
    Seller,
    invoice_document,
    postal_lines,
)
from billing.documents._pdf import find_unicode_font, render_pdf

__all__ = [
    "INVOICE_TEMPLATE",
    "MAX_LINES",
    "MAX_STEPS",
    "BillTo",
    "DocumentError",
    "DocumentLine",
    "DocumentTax",
    "Formatter",
    "InvoiceDocument",
    "LineExplanation",
    "Seller",
    "find_unicode_font",
    "invoice_context",
    "invoice_document",
    "parse_locale",
    "parse_time_zone",
    "postal_lines",
    "render_html",
    "render_pdf",
]
