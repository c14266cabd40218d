"""What an invoice document shows: plain, frozen data, everything the template needs.

The document is a snapshot taken when the invoice is finalized; rendering it twice gives the
same HTML and the same PDF bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from billing.domain.customers import Customer, PostalAddress, TaxId
from billing.domain.invoices import Invoice
from billing.domain.subscriptions import Line, LineKind
from billing.domain.tax import TaxAmount
from billing.domain.tax_ledger import invoice_taxes

# A document this long is a bug upstream, not an invoice anyone reads; it also bounds the
# time one render can take.
MAX_LINES = 1000
# Pricing steps printed for one line: the rules allow 100 tiers; a plugin's pricing model may
# write more, and the rest are counted instead of printed.
MAX_STEPS = 100


class DocumentError(ValueError):
    """A document cannot be rendered: a bad locale, time zone, template, font or logo."""


@dataclass(frozen=True)
class Seller:
    name: str
    address_lines: tuple[str, ...] = ()
    legal_text: str = ""  # registered office, VAT number, directors...; newlines kept
    logo_path: str = ""  # a file; relative paths are read from the template directory
    tax_ids: tuple[TaxId, ...] = ()  # the seller's registrations (tax rules' seller.tax_ids)


@dataclass(frozen=True)
class DocumentTax:
    """One tax of the invoice: a jurisdiction, tax and rate over its taxable base, or a
    non-taxed treatment (reverse charge, exempt) at 0 with its legal note."""

    jurisdiction: str
    tax_name: str
    treatment: str  # taxed, reverse_charge, exempt, zero_rated, out_of_scope
    rate_name: str
    percent: Decimal
    taxable_minor: int
    tax_minor: int
    note: str = ""

    @classmethod
    def from_amount(cls, amount: TaxAmount) -> DocumentTax:
        return cls(
            jurisdiction=amount.jurisdiction,
            tax_name=amount.tax_name,
            treatment=amount.treatment.value,
            rate_name=amount.rate_name,
            percent=amount.percent,
            taxable_minor=amount.taxable_minor,
            tax_minor=amount.tax_minor,
            note=amount.note,
        )


@dataclass(frozen=True)
class BillTo:
    name: str
    address_lines: tuple[str, ...] = ()
    tax_ids: tuple[TaxId, ...] = ()


@dataclass(frozen=True)
class LineExplanation:
    """How a line's amount was reached, from the derivation stored with it (what
    ExplainInvoice returns). The covered period and the proration factor are on the line.

    Every field is optional: lines written before derivations were stored have none.
    """

    rule_entry: str = ""  # "prices/api_calls", "plan flat fee", a coupon's name
    unrounded: Decimal | None = None  # major units, before the one rounding of the line
    rounding: str = ""  # the money rule's mode: half_up, half_even, ...
    steps: tuple[str, ...] = ()  # tiers or packages, "units 1 to 100: 100 x 0.10 + 0 = 10.00"
    steps_left_out: int = 0  # steps beyond MAX_STEPS
    metric: str = ""  # usage lines: the metric counted
    base: Decimal | None = None  # discount lines: the amount the discount was taken from

    @classmethod
    def from_line(cls, line: Line) -> LineExplanation:
        derivation: Mapping[str, Any] = line.derivation or {}
        raw_steps = derivation.get("steps")
        steps = tuple(map(str, raw_steps)) if isinstance(raw_steps, list | tuple) else ()
        return cls(
            rule_entry=_text(derivation.get("rule_entry")),
            unrounded=line.unrounded,
            rounding=_text(derivation.get("rounding")),
            steps=steps[:MAX_STEPS],
            steps_left_out=max(len(steps) - MAX_STEPS, 0),
            metric=_text(derivation.get("metric")),
            base=_decimal(derivation.get("base")),
        )


@dataclass(frozen=True)
class DocumentLine:
    description: str
    period_start: datetime | None
    period_end: datetime | None
    quantity: Decimal
    unit_amount: Decimal  # major units, exact, possibly finer than the minor unit
    amount_minor: int  # the rounded line amount; negative for a credit
    proration: str = ""  # the unreduced factor, e.g. "15/30 days"; empty for a full period
    explanation: LineExplanation | None = None  # None: nothing recorded beyond the above

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
            explanation=LineExplanation.from_line(line),
        )


@dataclass(frozen=True)
class InvoiceDocument:
    """An invoice as printed. Amounts are integer minor units of `currency`.

    `discount_minor` and `credit_applied_minor` are positive amounts that were deducted;
    the template shows them as deductions. Datetimes are instants (naive ones are read as
    UTC) and are printed as dates in `time_zone`. `show_explanations` adds the section "How
    each line was calculated"; `rule_set` is the content hash of the rules the invoice was
    priced with.
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
    rule_set: str = ""
    show_explanations: bool = False
    taxes: tuple[DocumentTax, ...] = ()  # per rate and jurisdiction; () when untaxed

    def __post_init__(self) -> None:
        if len(self.lines) > MAX_LINES:
            raise DocumentError(f"{len(self.lines)} lines; a document holds at most {MAX_LINES}")
        # The one invariant finance relies on above all: what the table shows adds up.
        if sum(line.amount_minor for line in self.lines) != self.subtotal_minor:
            raise DocumentError("the subtotal must be the sum of the lines")
        if self.taxes and sum(t.tax_minor for t in self.taxes) != self.tax_minor:
            raise DocumentError("the tax must be the sum of the taxes")

    @property
    def tax_notes(self) -> tuple[str, ...]:
        """The legal notes of the taxes (reverse charge, exemption, export), each once."""
        return tuple(dict.fromkeys(t.note for t in self.taxes if t.note))


def invoice_document(
    invoice: Invoice,
    customer: Customer,
    seller: Seller,
    *,
    number: str,
    issued_at: datetime,
    due_at: datetime | None = None,
    show_explanations: bool = False,
) -> InvoiceDocument:
    """The document for a domain invoice, in the customer's locale and time zone.

    The invoice's TAX lines become its taxes (per rate and jurisdiction, with their base and
    legal note), apart from the lines: the subtotal is the net of the other lines, the total
    net + tax (ADR 0033). Discounts stay lines, so the discount total is zero.
    `show_explanations` is the invoicing rule `document.show_explanations`.
    """
    fields = customer.fields
    address = fields.billing_address
    seller_ids, buyer_ids = _tax_ids_at_finalization(invoice)
    if seller_ids:
        seller = replace(seller, tax_ids=seller_ids)
    lines = tuple(line for line in invoice.lines if line.kind != LineKind.TAX)
    taxes = tuple(DocumentTax.from_amount(t) for t in invoice_taxes(invoice))
    tax_minor = sum(t.tax_minor for t in taxes)
    return InvoiceDocument(
        seller=seller,
        customer=BillTo(
            name=address.organization or fields.display_name,
            address_lines=postal_lines(address),
            tax_ids=buyer_ids or fields.tax_ids,
        ),
        number=number,
        status=str(invoice.status),
        issued_at=issued_at,
        due_at=due_at,
        currency=invoice.currency,
        locale=fields.locale,
        time_zone=fields.time_zone,
        lines=tuple(DocumentLine.from_line(line) for line in lines),
        subtotal_minor=invoice.settlement.total_minor - tax_minor,
        discount_minor=0,
        tax_minor=tax_minor,
        total_minor=invoice.settlement.total_minor,
        credit_applied_minor=invoice.settlement.credit_applied_minor,
        amount_due_minor=invoice.settlement.amount_due_minor,
        rule_set=invoice.rule_set,
        show_explanations=show_explanations,
        taxes=taxes,
    )


def _tax_ids_at_finalization(invoice: Invoice) -> tuple[tuple[TaxId, ...], tuple[TaxId, ...]]:
    """The seller's and the buyer's tax ids as the tax lines recorded them when the invoice
    was finalized ("type value" each, ADR 0032): the document shows what the invoice was
    issued under, not what the rules or the customer say today. Empty when not recorded."""
    for line in invoice.lines:
        if line.kind == LineKind.TAX and line.derivation:
            return (
                _ids(line.derivation.get("seller_tax_ids")),
                _ids(line.derivation.get("buyer_tax_ids")),
            )
    return (), ()


def _ids(recorded: object) -> tuple[TaxId, ...]:
    if not isinstance(recorded, list | tuple):
        return ()
    found = []
    for text in recorded:
        kind, _, value = str(text).partition(" ")
        if value:
            found.append(TaxId(kind, value))
    return tuple(found)


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


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _decimal(value: object) -> Decimal | None:
    """A derivation's number (stored as text), or None when it has none or it is no number."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
