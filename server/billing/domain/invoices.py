"""Invoices as plain data: lines rounded once each, the total their sum."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.money import Money
from billing.domain.subscriptions import Line, Settlement
from billing.domain.tax import TaxAmount


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    subscription_id: str | None
    currency: str
    status: InvoiceStatus
    billing_reason: str  # subscription_create, subscription_cycle, subscription_update, final
    period_start: datetime
    period_end: datetime
    lines: tuple[Line, ...]
    settlement: Settlement
    rule_set: str
    created_at: datetime
    finalized_at: datetime | None
    version: int = 1
    number: str | None = None  # assigned at finalization; drafts have none
    memo: str = ""
    paid_at: datetime | None = None
    voided_at: datetime | None = None
    uncollectible_at: datetime | None = None
    payment_reference: str = ""
    credited_minor: int = 0  # credit notes against it
    due_at: datetime | None = None  # send_invoice: finalization plus the net terms
    coupon_code: str | None = None  # applied to the draft by hand
    paid_minor: int = 0  # by payments applied to it (ADR 0034)

    @property
    def remaining_minor(self) -> int:
        """What is still owed: the amount due less what payments paid, never below zero."""
        return max(self.settlement.amount_due_minor - self.paid_minor, 0)

    @property
    def is_draft(self) -> bool:
        return self.status == InvoiceStatus.DRAFT

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def name(self) -> str:
        return f"invoices/{self.id}"

    def __post_init__(self) -> None:
        # The one invariant finance relies on above all.
        if sum(line.amount_minor for line in self.lines) != self.settlement.total_minor:
            raise ValueError("an invoice total must be the sum of its lines")


@dataclass(frozen=True)
class InvoiceHead:
    """An invoice without its lines: what charging it needs (ADR 0034's intent), read in
    one statement instead of the invoice's two."""

    id: str
    customer_id: str
    subscription_id: str | None
    currency: str
    status: InvoiceStatus
    amount_due_minor: int
    paid_minor: int
    number: str | None

    @property
    def remaining_minor(self) -> int:
        """As `Invoice.remaining_minor`."""
        return max(self.amount_due_minor - self.paid_minor, 0)

    @property
    def name(self) -> str:
        return f"invoices/{self.id}"


@dataclass(frozen=True)
class CreditNote:
    id: str
    invoice_id: str
    customer_id: str
    number: str
    amount: Money
    reason: str
    applied_to: str  # amount_due (an open invoice) or credit_balance (a paid one)
    created_at: datetime
    # The part of `amount` that is tax, and per tax of the invoice what the note reverses
    # (ADR 0033): amount = net + tax_minor exactly.
    tax_minor: int = 0
    taxes: tuple[TaxAmount, ...] = ()
    # The part of `amount` put on the customer's credit balance (the rest lowered what was
    # owed): what refunds tied to the note may pay out (ADR 0041).
    to_credit_minor: int = 0

    @property
    def name(self) -> str:
        return f"creditNotes/{self.id}"


# What each status may become; finalized invoices are immutable apart from these moves.
INVOICE_TRANSITIONS: dict[InvoiceStatus, frozenset[InvoiceStatus]] = {
    InvoiceStatus.DRAFT: frozenset({InvoiceStatus.OPEN}),
    InvoiceStatus.OPEN: frozenset(
        {InvoiceStatus.PAID, InvoiceStatus.VOID, InvoiceStatus.UNCOLLECTIBLE}
    ),
    InvoiceStatus.UNCOLLECTIBLE: frozenset({InvoiceStatus.PAID, InvoiceStatus.VOID}),
    InvoiceStatus.PAID: frozenset(),
    InvoiceStatus.VOID: frozenset(),
}


# Statuses a credit note may be written against: finalized and not void.
CREDITABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.UNCOLLECTIBLE})


@dataclass(frozen=True)
class CreditSplit:
    """Where a credit note's amount goes."""

    to_amount_due_minor: int  # lowers what the customer still owes on the invoice
    to_credit_balance_minor: int  # money received, given back as spendable customer credit


def creditable_minor(invoice: Invoice) -> int:
    """What credit notes may still take from the invoice: its total less what they took."""
    return max(invoice.settlement.total_minor - invoice.credited_minor, 0)


def split_credit(invoice: Invoice, amount_minor: int) -> CreditSplit:
    """A credit note first lowers what is still owed (open, or uncollectible: written off
    but owed); only the rest becomes customer credit. That rest never exceeds the money
    received for the invoice (a payment, or credit applied at finalization), because the
    note is capped at the total less earlier notes: total = received + owed.

    Raises ValueError for a status that takes no credit note or an amount over what is left.
    """
    if invoice.status not in CREDITABLE:
        raise ValueError(f"a {invoice.status.value} invoice takes no credit note")
    if not 0 < amount_minor <= creditable_minor(invoice):
        raise ValueError(f"{amount_minor} is not within 1..{creditable_minor(invoice)}")
    # What payments paid is received money: only what remains is still owed (ADR 0034).
    owed = invoice.remaining_minor if invoice.status != InvoiceStatus.PAID else 0
    to_due = min(amount_minor, owed)
    return CreditSplit(to_due, amount_minor - to_due)


def format_number(pattern: str, year: int, seq: int) -> str:
    """`INV-{year}-{seq:06d}` with year 2026 and seq 123 gives INV-2026-000123."""
    return pattern.format(year=year, seq=seq)
