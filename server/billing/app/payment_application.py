"""Applying money received (a succeeded attempt or a manual payment) in the transaction that
records it (ADR 0034): the payment and its allocations, each invoice's `paid_minor` raised
(paid when nothing remains, else `invoice.partially_paid`), the rest onto the customer's
credit balance, and their events; an invoice paid recovers its dunning case (ADR 0043).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from billing.app.books import post_facts
from billing.app.dunning_recovery import invoice_paid
from billing.app.ids import new_id
from billing.app.ports import RetryableConflict, Transaction
from billing.app.records import OutboxEvent
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.money import Money
from billing.domain.payments import Payment
from billing.domain.postings import payment_received

# Statuses whose invoices still take money; a paid or void invoice's share goes to credit.
PAYABLE = frozenset({InvoiceStatus.OPEN, InvoiceStatus.UNCOLLECTIBLE})


def still_owed(invoice: Invoice) -> int:
    return invoice.remaining_minor if invoice.status in PAYABLE else 0


async def apply_payment(
    tx: Transaction,
    tenant_id: str,
    payment: Payment,
    invoices: Mapping[str, Invoice],
    at: datetime,
    *,
    clearing: str,
) -> list[Invoice]:
    """Record `payment` (allocations already capped by the caller to what each invoice, read
    locked into `invoices`, still owes), and its journal entries: `clearing` names the cash
    clearing account (the gateway, or manual). Returns the invoices as they are afterwards."""
    written_off = [
        invoices[a.invoice_id]
        for a in payment.allocations
        if invoices[a.invoice_id].status == InvoiceStatus.UNCOLLECTIBLE
    ]
    await post_facts(tx, tenant_id, payment_received(payment, written_off, clearing), at)
    updated: list[Invoice] = []
    for allocation in payment.allocations:
        invoice = invoices[allocation.invoice_id]
        paid = invoice.paid_minor + allocation.amount_minor
        done = paid >= invoice.settlement.amount_due_minor
        after = replace(
            invoice,
            paid_minor=paid,
            status=InvoiceStatus.PAID if done else invoice.status,
            paid_at=at if done else invoice.paid_at,
            version=invoice.version + 1,
        )
        if not await tx.invoices.update_status(tenant_id, after, invoice.version, invoice.status):
            raise RetryableConflict(f"{invoice.name} changed while a payment was applied")
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                tenant_id,
                "invoice.paid" if done else "invoice.partially_paid",
                invoice.name,
                {
                    "payment": payment.name,
                    "amount_minor": allocation.amount_minor,
                    "paid_minor": paid,
                    "remaining_minor": after.remaining_minor,
                    "currency": invoice.currency,
                    "number": invoice.number,
                },
                at,
            )
        )
        if done:  # its dunning case, if any, is recovered (one indexed read)
            await invoice_paid(tx, tenant_id, after, at, payment.name)
        updated.append(after)
    await tx.payments.insert(tenant_id, payment)
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            "payment.received",
            payment.name,
            {
                "customer": f"customers/{payment.customer_id}",
                "amount_minor": payment.amount_minor,
                "currency": payment.currency,
                "source": payment.source.value,
                "allocations": [
                    {"invoice": f"invoices/{a.invoice_id}", "amount_minor": a.amount_minor}
                    for a in payment.allocations
                ],
                "to_credit_minor": payment.to_credit_minor,
                "payment_attempt": f"paymentAttempts/{payment.attempt_id}"
                if payment.attempt_id
                else None,
            },
            at,
        )
    )
    if payment.to_credit_minor:
        await add_credit(
            tx,
            tenant_id,
            payment.customer_id,
            Money(payment.currency, payment.to_credit_minor),
            at,
            payment.name,
        )
    return updated


async def add_credit(
    tx: Transaction, tenant_id: str, customer_id: str, amount: Money, at: datetime, source: str
) -> int:
    """Raise the customer's credit balance (locked by the read); returns the new balance."""
    balance = await tx.credit.balance(tenant_id, customer_id, amount.currency_code)
    after = balance + amount.amount_minor
    await tx.credit.set_balance(tenant_id, customer_id, amount.currency_code, after)
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            "customer.credit_added",
            f"customers/{customer_id}",
            {
                "amount_minor": amount.amount_minor,
                "currency": amount.currency_code,
                "balance_minor": after,
                "source": source,
            },
            at,
        )
    )
    return after
