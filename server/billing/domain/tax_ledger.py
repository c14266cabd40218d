"""The tax of invoices, credit notes and voids as ledger entries, and a tax report of them
(ADR 0033). Pure: the app writes the entries in the event's transaction and sums them.

- A finalized invoice books one entry per tax (TaxAmount) it carries as a TAX line.
- A credit note of gross amount A reverses the invoice's taxes in proportion to the invoice's
  gross total T. The reversal is cumulative: after credit notes totalling x, each tax's base
  and tax reversed are round(x * amount / T) (half up, monotone in x), and a note books the
  difference its amount makes. So a note's net and taxes add up to A exactly, a full credit
  (x = T) reverses exactly the invoice's taxes however many notes it took, and no later note
  reverses less than nothing.
- A void reverses what credit notes left: the invoice's taxes less the cumulative reversal.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from billing.domain.invoices import Invoice
from billing.domain.tax import TaxAmount
from billing.domain.tax_lines import amount_from_derivation, amount_to_derivation, tax_amounts


class SourceKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    VOID = "void"


@dataclass(frozen=True)
class TaxEntry:
    """One row of the tax ledger. Signed: a credit note's or a void's entries are negative.
    `tax_point` is the day it counts on in a return: the invoice's tax point, or the day of
    the credit note or the void."""

    source_kind: SourceKind
    source_id: str  # the invoice (invoice, void) or the credit note
    seq: int  # the tax's position among the invoice's taxes
    invoice_id: str
    customer_id: str
    currency: str
    jurisdiction: str
    tax_name: str
    treatment: str
    rate_name: str
    percent: Decimal
    taxable_minor: int
    tax_minor: int
    tax_point: date
    occurred_at: datetime


# --- the taxes of an invoice -------------------------------------------------------------------


def invoice_taxes(invoice: Invoice) -> tuple[TaxAmount, ...]:
    """The invoice's taxes, from its TAX lines, in line order; () untaxed."""
    return tax_amounts(invoice.lines)


# A TaxAmount as plain JSON (a credit note's taxes): the TAX lines' shape (ADR 0032).
tax_amount_to_dict = amount_to_derivation
tax_amount_from_dict = amount_from_derivation


def percent_text(percent: Decimal) -> str:
    """One spelling per rate, so the ledger groups by it: 19, 5.5, 0 (never 19.00 or 1.9E+1)."""
    text = format(percent.normalize(), "f")
    return "0" if text in {"-0", "0"} else text


# --- credit notes and voids ---------------------------------------------------------------------


@dataclass(frozen=True)
class CreditNoteTax:
    """A credit note's amount split: `net_minor` plus each tax's `tax_minor` is the amount."""

    net_minor: int
    taxes: tuple[TaxAmount, ...]  # per tax of the invoice, what this note reverses (>= 0)

    @property
    def tax_minor(self) -> int:
        return sum(t.tax_minor for t in self.taxes)


def credit_note_tax(invoice: Invoice, amount_minor: int) -> CreditNoteTax:
    """The tax a credit note of `amount_minor` (gross, after `invoice.credited_minor` already
    credited) reverses. Raises ValueError for an amount beyond the invoice's total."""
    taxes = invoice_taxes(invoice)
    total = invoice.settlement.total_minor
    before = invoice.credited_minor
    if not taxes or total <= 0:
        return CreditNoteTax(amount_minor, ())
    if not 0 <= before + amount_minor <= total:
        raise ValueError(f"{before + amount_minor} credited is beyond the total {total}")
    after = _reversed(taxes, total, before + amount_minor)
    earlier = _reversed(taxes, total, before)
    parts = tuple(
        replace(tax, taxable_minor=a[0] - e[0], tax_minor=a[1] - e[1])
        for tax, a, e in zip(taxes, after, earlier, strict=True)
    )
    return CreditNoteTax(amount_minor - sum(p.tax_minor for p in parts), parts)


def remaining_taxes(invoice: Invoice) -> tuple[TaxAmount, ...]:
    """What credit notes left of each tax: what a void reverses."""
    taxes = invoice_taxes(invoice)
    total = invoice.settlement.total_minor
    if not taxes or total <= 0:
        return taxes
    done = _reversed(taxes, total, min(invoice.credited_minor, total))
    return tuple(
        replace(tax, taxable_minor=tax.taxable_minor - d[0], tax_minor=tax.tax_minor - d[1])
        for tax, d in zip(taxes, done, strict=True)
    )


def _reversed(taxes: Sequence[TaxAmount], total: int, credited: int) -> list[tuple[int, int]]:
    """Per tax, (base, tax) reversed once `credited` of the gross `total` is credited."""
    share = Fraction(credited, total)
    return [(_half_up(tax.taxable_minor * share), _half_up(tax.tax_minor * share)) for tax in taxes]


def _half_up(value: Fraction) -> int:
    """Nearest integer, halves up: monotone, and exact on integers."""
    return math.floor(value + Fraction(1, 2))


# --- ledger entries ---------------------------------------------------------------------------


def invoice_entries(invoice: Invoice, at: datetime, day: date) -> tuple[TaxEntry, ...]:
    """The entries of a finalized invoice: each tax at its tax point (`day`, the day of
    finalization, when the tax has none)."""
    return _entries(SourceKind.INVOICE, invoice.id, invoice, invoice_taxes(invoice), 1, at, day)


def credit_note_entries(
    invoice: Invoice, note_id: str, taxes: Sequence[TaxAmount], at: datetime, day: date
) -> tuple[TaxEntry, ...]:
    """A credit note's entries: its reversed taxes, negative, on the note's `day`."""
    return _entries(SourceKind.CREDIT_NOTE, note_id, invoice, taxes, -1, at, day, on=day)


def void_entries(invoice: Invoice, at: datetime, day: date) -> tuple[TaxEntry, ...]:
    """A void's entries: what credit notes left of each tax, negative, on the void's `day`."""
    remaining = remaining_taxes(invoice)
    return _entries(SourceKind.VOID, invoice.id, invoice, remaining, -1, at, day, on=day)


def _entries(
    kind: SourceKind,
    source_id: str,
    invoice: Invoice,
    taxes: Sequence[TaxAmount],
    sign: int,
    at: datetime,
    day: date,
    *,
    on: date | None = None,
) -> tuple[TaxEntry, ...]:
    return tuple(
        TaxEntry(
            source_kind=kind,
            source_id=source_id,
            seq=seq,
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            jurisdiction=tax.jurisdiction,
            tax_name=tax.tax_name,
            treatment=tax.treatment.value,
            rate_name=tax.rate_name,
            percent=tax.percent,
            taxable_minor=sign * tax.taxable_minor,
            tax_minor=sign * tax.tax_minor,
            tax_point=on or tax.tax_point or day,
            occurred_at=at,
        )
        for seq, tax in enumerate(taxes)
        # An invoice books every tax (a reverse charge's base, at 0); a reversal only what
        # it moves.
        if kind == SourceKind.INVOICE or tax.taxable_minor or tax.tax_minor
    )


# --- the report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportKey:
    jurisdiction: str
    tax_name: str
    treatment: str
    rate_name: str
    percent: str  # as percent_text spells it
    currency: str


@dataclass(frozen=True)
class LedgerSum:
    """The sums of the ledger's rows of one key and one source kind."""

    key: ReportKey
    source_kind: SourceKind
    taxable_minor: int
    tax_minor: int


@dataclass(frozen=True)
class TaxReportRow:
    """One (jurisdiction, tax, treatment, rate, currency) over a period. Credit notes and
    voids are negative; net is the sum of all three: the figures of the return."""

    key: ReportKey
    invoiced_taxable_minor: int = 0
    invoiced_tax_minor: int = 0
    credited_taxable_minor: int = 0
    credited_tax_minor: int = 0
    voided_taxable_minor: int = 0
    voided_tax_minor: int = 0

    @property
    def net_taxable_minor(self) -> int:
        return self.invoiced_taxable_minor + self.credited_taxable_minor + self.voided_taxable_minor

    @property
    def net_tax_minor(self) -> int:
        return self.invoiced_tax_minor + self.credited_tax_minor + self.voided_tax_minor


_FIELDS = {
    SourceKind.INVOICE: ("invoiced_taxable_minor", "invoiced_tax_minor"),
    SourceKind.CREDIT_NOTE: ("credited_taxable_minor", "credited_tax_minor"),
    SourceKind.VOID: ("voided_taxable_minor", "voided_tax_minor"),
}


def report_rows(sums: Iterable[LedgerSum]) -> list[TaxReportRow]:
    """The sums by source kind as one row per key, sorted by currency, jurisdiction, tax,
    treatment, rate name and percent."""
    rows: dict[ReportKey, TaxReportRow] = {}
    for s in sums:
        row = rows.get(s.key) or TaxReportRow(s.key)
        taxable_field, tax_field = _FIELDS[s.source_kind]
        rows[s.key] = replace(
            row,
            **{
                taxable_field: getattr(row, taxable_field) + s.taxable_minor,
                tax_field: getattr(row, tax_field) + s.tax_minor,
            },
        )
    return sorted(
        rows.values(),
        key=lambda r: (
            r.key.currency,
            r.key.jurisdiction,
            r.key.tax_name,
            r.key.treatment,
            r.key.rate_name,
            Decimal(r.key.percent),
        ),
    )


@dataclass(frozen=True)
class TaxReportQuery:
    """Rows whose tax point is in [start, end); `jurisdiction` a code (a country's takes in
    its subdivisions: CA takes CA-ON), `currency` an ISO code; empty: any."""

    start: date
    end: date
    jurisdiction: str = ""
    currency: str = ""
