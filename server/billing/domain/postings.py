"""What each money event writes in the journal (ADR 0051, 0052). Pure: a fact in, postings out.

A posting is an entry without its id, instant and period (`billing.app.books` gives those):
signed amounts per ledger account, positive a debit, negative a credit, netted per account.
Every function returns postings that balance, or none when the event moves nothing.

The accounts follow one path: an invoice puts its net revenue in deferred revenue and its tax
in tax payable against what is due (accounts receivable) and the credit it used; payments
clear receivables into the gateway's clearing account; credit notes and refunds are contra
revenue; a write-off moves what is owed to bad debt, and money received for a written-off
invoice first brings it back (a recovery). Recognition (deferred to revenue) is its own kind.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.ledger import (
    ACCOUNTS_RECEIVABLE,
    BAD_DEBT,
    CASH_CLEARING,
    CONTRA_REVENUE,
    CUSTOMER_CREDIT,
    DEFERRED_REVENUE,
    DISPUTE_LOSSES,
    DISPUTED_FUNDS,
    REVENUE,
    ROUNDING,
    TAX_PAYABLE,
    EntryKind,
    account,
)
from billing.domain.payments import Dispute, DisputeStatus, Payment
from billing.domain.subscriptions import LineKind
from billing.domain.tax import TaxAmount
from billing.domain.tax_lines import amount_of

MANUAL_CLEARING = "manual"  # cash_clearing:manual, money recorded by hand
OUTSIDE_CLEARING = "outside"  # cash_clearing:outside, an invoice marked paid outside payments

# Lines that are the seller's revenue (deferred until recognized); the rest are tax, cash
# rounding and the move of a negative invoice's excess to customer credit.
_NOT_REVENUE = frozenset({LineKind.TAX, LineKind.ROUNDING, LineKind.ACCOUNT_CREDIT})


@dataclass(frozen=True)
class Posting:
    kind: EntryKind
    source: str  # the resource that caused it: invoices/inv_…, payments/pmt_…
    currency: str
    amounts: tuple[tuple[str, int], ...]  # (ledger account, signed minor units), netted
    customer_id: str | None = None
    memo: str = ""
    adjusts: str | None = None


def _posting(
    kind: EntryKind,
    source: str,
    currency: str,
    pairs: Iterable[tuple[str, int]],
    customer_id: str | None,
    memo: str = "",
) -> list[Posting]:
    """One posting of the pairs netted per account (first-seen order), none if nothing moves."""
    net: dict[str, int] = {}
    for name, amount in pairs:
        net[name] = net.get(name, 0) + amount
    amounts = tuple((name, amount) for name, amount in net.items() if amount)
    if not amounts:
        return []
    if sum(amount for _, amount in amounts) != 0:  # a bug here, never the caller's input
        raise ValueError(f"{kind.value} posting of {source} does not balance: {amounts}")
    return [Posting(kind, source, currency, amounts, customer_id, memo)]


def _tax_account(tax: TaxAmount) -> str:
    return account(TAX_PAYABLE, tax.jurisdiction)


def _owed_account(invoice: Invoice) -> str:
    """Where an invoice's unpaid amount sits: receivables, or bad debt once written off."""
    return BAD_DEBT if invoice.status == InvoiceStatus.UNCOLLECTIBLE else ACCOUNTS_RECEIVABLE


def _invoice_credits(invoice: Invoice, *, with_tax: bool = True) -> list[tuple[str, int]]:
    """The invoice's lines as credits: revenue to deferred revenue, tax to its jurisdiction,
    cash rounding to rounding, an account-credit line to the customer's credit."""
    pairs: list[tuple[str, int]] = []
    for line in invoice.lines:
        if line.kind == LineKind.TAX:
            if with_tax:
                pairs.append((_tax_account(amount_of(line)), -line.amount_minor))
        elif line.kind == LineKind.ROUNDING:
            pairs.append((ROUNDING, -line.amount_minor))
        elif line.kind == LineKind.ACCOUNT_CREDIT:
            pairs.append((CUSTOMER_CREDIT, -line.amount_minor))
        else:
            pairs.append((DEFERRED_REVENUE, -line.amount_minor))
    return pairs


def net_revenue_minor(invoice: Invoice) -> int:
    """The invoice's revenue lines: what it puts in deferred revenue."""
    return sum(line.amount_minor for line in invoice.lines if line.kind not in _NOT_REVENUE)


def invoice_finalized(invoice: Invoice) -> list[Posting]:
    """Dr receivables (what is due) and customer credit (what credit paid); Cr deferred
    revenue, tax payable per jurisdiction, rounding. A negative total without an account
    credit line (a hand-made invoice) becomes customer credit, as `settle` does."""
    s = invoice.settlement
    given = min(s.total_minor, 0)  # the customer's credit rises by -given
    pairs = [
        (ACCOUNTS_RECEIVABLE, s.amount_due_minor),
        (CUSTOMER_CREDIT, s.credit_applied_minor + given),
        *_invoice_credits(invoice),
    ]
    return _posting(
        EntryKind.INVOICE_FINALIZED, invoice.name, invoice.currency, pairs, invoice.customer_id
    )


def invoice_voided(invoice: Invoice, taxes_left: Sequence[TaxAmount]) -> list[Posting]:
    """The finalized posting undone, less what credit notes already took back (they stay
    contra revenue, undone here too, so the void leaves nothing of the invoice behind). Takes
    the invoice as it was before the void (open or uncollectible, nothing paid by payments):
    what is still owed leaves receivables (or bad debt), and the credit it used and no note
    gave back returns to the customer's credit (`void_credit_back_minor`)."""
    s = invoice.settlement
    taxes_taken = _total_tax(invoice) - sum(tax.tax_minor for tax in taxes_left)
    undone = [(name, -amount) for name, amount in _invoice_credits(invoice, with_tax=False)]
    pairs = [
        *undone,
        *[(_tax_account(tax), tax.tax_minor) for tax in taxes_left],
        (CONTRA_REVENUE, -(invoice.credited_minor - taxes_taken)),
        (_owed_account(invoice), -invoice.remaining_minor),
        (CUSTOMER_CREDIT, -void_credit_back_minor(invoice) - min(s.total_minor, 0)),
    ]
    return _posting(
        EntryKind.INVOICE_VOIDED, invoice.name, invoice.currency, pairs, invoice.customer_id
    )


def void_credit_back_minor(invoice: Invoice) -> int:
    """The credit a void returns: what the invoice used of the customer's credit at
    finalization, less what its credit notes already gave back to the balance. For an unpaid
    invoice: total - credited - still owed."""
    s = invoice.settlement
    if s.total_minor <= 0:
        return 0
    return max(s.total_minor - invoice.credited_minor - invoice.remaining_minor, 0)


def credit_given_minor(invoice: Invoice) -> int:
    """The customer credit the invoice gave: its account-credit lines (a negative invoice's
    excess), or its negative total when it has none."""
    lines = sum(line.amount_minor for line in invoice.lines if line.kind == LineKind.ACCOUNT_CREDIT)
    return lines + max(-invoice.settlement.total_minor, 0)


def invoice_taxes_of(invoice: Invoice) -> tuple[TaxAmount, ...]:
    return tuple(amount_of(line) for line in invoice.lines if line.kind == LineKind.TAX)


def _total_tax(invoice: Invoice) -> int:
    return sum(line.amount_minor for line in invoice.lines if line.kind == LineKind.TAX)


def written_off(invoice: Invoice) -> list[Posting]:
    """Marked uncollectible: what is still owed moves from receivables to bad debt. Takes the
    invoice as it was (open)."""
    owed = invoice.remaining_minor
    pairs = [(BAD_DEBT, owed), (ACCOUNTS_RECEIVABLE, -owed)]
    return _posting(EntryKind.WRITE_OFF, invoice.name, invoice.currency, pairs, invoice.customer_id)


def recovered(invoice: Invoice, amount_minor: int) -> list[Posting]:
    """Money arriving for a written-off invoice first brings that much back to receivables."""
    pairs = [(ACCOUNTS_RECEIVABLE, amount_minor), (BAD_DEBT, -amount_minor)]
    return _posting(
        EntryKind.WRITE_OFF_RECOVERED, invoice.name, invoice.currency, pairs, invoice.customer_id
    )


def payment_received(
    payment: Payment, written_off_allocations: Iterable[Invoice], clearing: str
) -> list[Posting]:
    """Dr the clearing account (the gateway's, or manual); Cr receivables for what went to
    invoices and customer credit for the rest. Invoices written off (uncollectible, as read
    before the payment) get their recovery entry first."""
    out: list[Posting] = []
    by_id = {invoice.id: invoice for invoice in written_off_allocations}
    for allocation in payment.allocations:
        if allocation.invoice_id in by_id:
            out += recovered(by_id[allocation.invoice_id], allocation.amount_minor)
    allocated = sum(a.amount_minor for a in payment.allocations)
    pairs = [
        (account(CASH_CLEARING, clearing), payment.amount_minor),
        (ACCOUNTS_RECEIVABLE, -allocated),
        (CUSTOMER_CREDIT, -payment.to_credit_minor),
    ]
    out += _posting(EntryKind.PAYMENT, payment.name, payment.currency, pairs, payment.customer_id)
    return out


def marked_paid(invoice: Invoice) -> list[Posting]:
    """An invoice marked paid outside payments: what it still owed was received elsewhere
    (cash_clearing:outside). Takes the invoice as it was (open or uncollectible)."""
    owed = invoice.remaining_minor
    out = recovered(invoice, owed) if invoice.status == InvoiceStatus.UNCOLLECTIBLE else []
    pairs = [(account(CASH_CLEARING, OUTSIDE_CLEARING), owed), (ACCOUNTS_RECEIVABLE, -owed)]
    out += _posting(EntryKind.PAYMENT, invoice.name, invoice.currency, pairs, invoice.customer_id)
    return out


def credit_note(
    invoice: Invoice,
    note_name: str,
    amount_minor: int,
    taxes: Sequence[TaxAmount],
    to_amount_due_minor: int,
    to_credit_balance_minor: int,
) -> list[Posting]:
    """Dr contra revenue (the net) and tax payable (each tax reversed); Cr what it lowers:
    receivables (or bad debt, for a written-off invoice) and the customer's credit. Takes the
    invoice as it was before the note."""
    tax = sum(t.tax_minor for t in taxes)
    pairs = [
        (CONTRA_REVENUE, amount_minor - tax),
        *[(_tax_account(t), t.tax_minor) for t in taxes],
        (_owed_account(invoice), -to_amount_due_minor),
        (CUSTOMER_CREDIT, -to_credit_balance_minor),
    ]
    return _posting(
        EntryKind.CREDIT_NOTE,
        note_name,
        invoice.currency,
        pairs,
        invoice.customer_id,
        memo=invoice.name,
    )


def refund_succeeded(
    refund_name: str,
    customer_id: str,
    currency: str,
    amount_minor: int,
    clearing: str,
    *,
    of_credit_note: bool,
) -> list[Posting]:
    """Money paid back: Cr the clearing account. Tied to a credit note, it pays out the credit
    the note put on the customer's balance (Dr customer credit; the note was the contra
    revenue); on its own it is a concession (Dr contra revenue)."""
    debit = CUSTOMER_CREDIT if of_credit_note else CONTRA_REVENUE
    pairs = [(debit, amount_minor), (account(CASH_CLEARING, clearing), -amount_minor)]
    return _posting(EntryKind.REFUND, refund_name, currency, pairs, customer_id)


def dispute_moved(dispute: Dispute, before: DisputeStatus | None) -> list[Posting]:
    """A dispute opened withdraws its amount from the gateway's clearing into disputed funds;
    won, it comes back; lost, it (and the fee) is a loss. A dispute first seen closed moves
    straight from clearing (won: nothing)."""
    clearing = account(CASH_CLEARING, dispute.gateway)
    amount, fee = dispute.amount_minor, dispute.fee_minor
    status = dispute.status
    if status is DisputeStatus.OPEN:
        kind, pairs = EntryKind.DISPUTE_OPENED, [(DISPUTED_FUNDS, amount), (clearing, -amount)]
    elif status is DisputeStatus.WON:
        if before is not DisputeStatus.OPEN:
            return []
        kind, pairs = EntryKind.DISPUTE_WON, [(clearing, amount), (DISPUTED_FUNDS, -amount)]
    elif status is DisputeStatus.LOST:
        held = DISPUTED_FUNDS if before is DisputeStatus.OPEN else clearing
        kind = EntryKind.DISPUTE_LOST
        pairs = [(DISPUTE_LOSSES, amount + fee), (held, -amount), (clearing, -fee)]
    else:
        return []
    return _posting(kind, dispute.name, dispute.currency, pairs, dispute.customer_id)


def recognized(
    invoice_name: str,
    customer_id: str,
    currency: str,
    by_product_line: dict[str, int],
    *,
    memo: str = "",
) -> list[Posting]:
    """Deferred revenue earned: Dr deferred_revenue, Cr revenue:<product line> per line (a
    negative amount, a credit's schedule or a reversal, the other way round)."""
    pairs = [(account(REVENUE, line), -amount) for line, amount in by_product_line.items()]
    pairs.append((DEFERRED_REVENUE, sum(by_product_line.values())))
    return _posting(EntryKind.RECOGNITION, invoice_name, currency, pairs, customer_id, memo)
