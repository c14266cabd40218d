"""Issuing invoices: settle against the customer's credit, store, announce. One place, so
every invoice (creation, renewal, change, cancellation, finalized draft) follows the same
rules: the total is the sum of the lines; credit reduces what is due, never the total; a
negative total becomes customer credit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from billing.app.ids import new_id
from billing.app.ports import Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import ActiveRules
from billing.domain.invoices import Invoice, InvoiceStatus, format_number
from billing.domain.subscriptions import Line, Subscription, settle
from billing.rules.model import InvoicingRules


async def issue_invoice(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    *,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rules: ActiveRules,
    at: datetime,
    invoice_id: str | None = None,
) -> Invoice:
    """An open (finalized) invoice, numbered."""
    draft = _invoice(
        sub, reason, period, lines, rules.content_hash, at, invoice_id, InvoiceStatus.DRAFT
    )
    return await _finalize(tx, tenant_id, sub, draft, at, rules, insert=True)


async def create_draft(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    *,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rule_set: str,
    at: datetime,
    invoice_id: str,
) -> Invoice:
    """A draft: lines may still be added (late usage) until it is finalized."""
    draft = _invoice(sub, reason, period, lines, rule_set, at, invoice_id, InvoiceStatus.DRAFT)
    await tx.invoices.insert(tenant_id, draft)
    return draft


async def finalize_draft(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    draft: Invoice,
    extra_lines: Sequence[Line],
    at: datetime,
    rules: ActiveRules,
) -> Invoice:
    lines = (*draft.lines, *extra_lines)
    grown = replace(draft, lines=lines, settlement=settle(lines, 0))
    return await _finalize(tx, tenant_id, sub, grown, at, rules, insert=False)


def _invoice(
    sub: Subscription,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rule_set: str,
    at: datetime,
    invoice_id: str | None,
    status: InvoiceStatus,
) -> Invoice:
    return Invoice(
        id=invoice_id or new_id("inv"),
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=sub.currency,
        status=status,
        billing_reason=reason,
        period_start=period[0],
        period_end=period[1],
        lines=tuple(lines),
        settlement=settle(lines, 0),
        rule_set=rule_set,
        created_at=at,
        finalized_at=None,
    )


async def _finalize(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    draft: Invoice,
    at: datetime,
    rules: ActiveRules,
    *,
    insert: bool,
) -> Invoice:
    balance = await tx.credit.balance(tenant_id, sub.customer_id, sub.currency)
    settlement = settle(draft.lines, balance)
    invoice = replace(draft, status=InvoiceStatus.OPEN, settlement=settlement, finalized_at=at)
    if insert:
        await tx.invoices.insert(tenant_id, invoice)
    else:
        await tx.invoices.replace(tenant_id, invoice)
    if settlement.credit_balance_after_minor != balance:
        await tx.credit.set_balance(
            tenant_id, sub.customer_id, sub.currency, settlement.credit_balance_after_minor
        )
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            "invoice.finalized",
            invoice.name,
            {
                "subscription": sub.name,
                "total_minor": settlement.total_minor,
                "amount_due_minor": settlement.amount_due_minor,
                "currency": sub.currency,
                "billing_reason": invoice.billing_reason,
            },
            at,
        )
    )
    # The number last: the counter row stays locked only for the commit that follows.
    number = await next_number(tx, tenant_id, rules.rules.invoicing, "invoice", at)
    await tx.invoices.set_number(tenant_id, invoice.id, number)
    return replace(invoice, number=number)


async def next_number(
    tx: Transaction, tenant_id: str, invoicing: InvoicingRules, series: str, at: datetime
) -> str:
    """The next gapless number of `series` in the year of `at` in the numbering zone."""
    year = at.astimezone(ZoneInfo(invoicing.numbering_time_zone)).year
    seq = await tx.numbering.next(tenant_id, series, year)
    pattern = (
        invoicing.number_format if series == "invoice" else invoicing.credit_note_number_format
    )
    return format_number(pattern, year, seq)
