"""Issuing an invoice: settle against the customer's credit, store, announce. One place, so
every invoice (creation, renewal, change, cancellation) follows the same rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from billing.app.ids import new_id
from billing.app.ports import Transaction
from billing.app.records import OutboxEvent
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import Line, Subscription, settle


async def issue_invoice(
    tx: Transaction,
    tenant_id: str,
    sub: Subscription,
    *,
    reason: str,
    period: tuple[datetime, datetime],
    lines: Sequence[Line],
    rule_set: str,
    at: datetime,
    invoice_id: str | None = None,
) -> Invoice:
    """An open (finalized) invoice; credit reduces what is due, a negative total adds to it."""
    balance = await tx.credit.balance(tenant_id, sub.customer_id, sub.currency)
    settlement = settle(lines, balance)
    invoice = Invoice(
        id=invoice_id or new_id("inv"),
        customer_id=sub.customer_id,
        subscription_id=sub.id,
        currency=sub.currency,
        status=InvoiceStatus.OPEN,
        billing_reason=reason,
        period_start=period[0],
        period_end=period[1],
        lines=tuple(lines),
        settlement=settlement,
        rule_set=rule_set,
        created_at=at,
        finalized_at=at,
    )
    await tx.invoices.insert(tenant_id, invoice)
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
                "billing_reason": reason,
            },
            at,
        )
    )
    return invoice
