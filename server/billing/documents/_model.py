"""What an invoice document shows: plain, frozen data, everything the template needs.

The document is a snapshot taken when the invoice is finalized; rendering it twice gives the
same HTML and the same PDF bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.domain.customers import Customer, PostalAddress, TaxId
from billing.domain.invoices import Invoice
from billing.domain.subscriptions import Line

# A document this long is a bug upstream, not an invoice anyone reads; it also bounds the
# time one render can take.
MAX_LINES = 1000


class DocumentError(ValueError):
    """A document cannot be rendered: a bad locale, time zone, template, font or logo."""


@dataclass(frozen=True)
class Seller:
    name: str
    address_lines: tuple[str, ...] = ()
    legal_text: str = ""  # registered office, VAT number, directors...; newlines kept
    logo_path: str = ""  # a file; relative paths are read from the template directory


@dataclass(frozen=True)
class BillTo:
    name: str
    address_lines: tuple[str, ...] = ()
    tax_ids: tuple[TaxId, ...] = ()


@dataclass(frozen=True)
class DocumentLine:
    description: str
    period_start: datetime | None
    period_end: datetime | None
    quantity: Decimal
    unit_amount: Decimal  # major units, exact, possibly finer than the minor unit
    amount_minor: int  # the rounded line amount; negative for a credit
    proration: str = ""  # the unreduced factor, e.g. "15/30 days"; empty for a full period

    @classmethod
    def from_line(cls, line: Line) -> DocumentLine:
        return cls(
            description=line.description,
            period_start=line.period_start,
            period_end=line.period_end,
            quantity=line.quantity,
            unit_amount=line.unit_amount,
            amount_minor=line.amount_minor,
            proration=line.factor,
        )


@dataclass(frozen=True)
class InvoiceDocument:
    """An invoice as printed. Amounts are integer minor units of `currency`.

    `discount_minor` and `credit_applied_minor` are positive amounts that were deducted;
    the template shows them as deductions. Datetimes are instants (naive ones are read as
    UTC) and are printed as dates in `time_zone`.
    """

    seller: Seller
    customer: BillTo
    number: str
    status: str
    issued_at: datetime
    due_at: datetime | None
    currency: str
    locale: str  # BCP 47, e.g. "de-DE"
    time_zone: str  # IANA, e.g. "Europe/Berlin"
    lines: tuple[DocumentLine, ...]
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int
    credit_applied_minor: int
    amount_due_minor: int

    def __post_init__(self) -> None:
        if len(self.lines) > MAX_LINES:
            raise DocumentError(f"{len(self.lines)} lines; a document holds at most {MAX_LINES}")
        # The one invariant finance relies on above all: what the table shows adds up.
        if sum(line.amount_minor for line in self.lines) != self.subtotal_minor:
            raise DocumentError("the subtotal must be the sum of the lines")


def invoice_document(
    invoice: Invoice,
    customer: Customer,
    seller: Seller,
    *,
    number: str,
    issued_at: datetime,
    due_at: datetime | None = None,
) -> InvoiceDocument:
    """The document for a domain invoice, in the customer's locale and time zone.

    Invoices carry no discount or tax of their own yet, so both are zero and the subtotal is
    the total.
    """
    fields = customer.fields
    address = fields.billing_address
    return InvoiceDocument(
        seller=seller,
        customer=BillTo(
            name=address.organization or fields.display_name,
            address_lines=postal_lines(address),
            tax_ids=fields.tax_ids,
        ),
        number=number,
        status=str(invoice.status),
        issued_at=issued_at,
        due_at=due_at,
        currency=invoice.currency,
        locale=fields.locale,
        time_zone=fields.time_zone,
        lines=tuple(DocumentLine.from_line(line) for line in invoice.lines),
        subtotal_minor=invoice.settlement.total_minor,
        discount_minor=0,
        tax_minor=0,
        total_minor=invoice.settlement.total_minor,
        credit_applied_minor=invoice.settlement.credit_applied_minor,
        amount_due_minor=invoice.settlement.amount_due_minor,
    )


def postal_lines(address: PostalAddress) -> tuple[str, ...]:
    """A postal address as printed lines: recipients, street lines, postal code and town,
    area, region. Country-specific ordering is left to the template if finance wants it."""
    town = " ".join(part for part in (address.postal_code, address.locality) if part)
    parts = (
        *address.recipients,
        *address.address_lines,
        town,
        address.administrative_area,
        address.region_code,
    )
    return tuple(part for part in parts if part)
