"""Disputes (chargebacks, ADR 0041): applied from the gateways' webhooks, read by the API.

A dispute changes its payment's `disputed_minor` (up when opened, back down when won, kept
when lost) and nothing else: the invoice the payment paid stays paid, and the money lost
(and the fee) is the ledger's business (issue 17 subscribes to `dispute.opened|won|lost`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.app.books import post_facts
from billing.app.context import CallContext
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import RetryableConflict, Store, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.disputes import DisputeFacts, dispute_change
from billing.domain.errors import NotFound
from billing.domain.names import parse_name
from billing.domain.payments import Dispute, PaymentAttempt
from billing.domain.postings import dispute_moved

AUDIT_METHOD = "DisputeEvent"


@dataclass(frozen=True)
class DisputePage:
    disputes: list[Dispute]
    next_page_token: str


class DisputeReads:
    def __init__(self, store: Store) -> None:
        self._store = store

    async def get(self, ctx: CallContext, name: str) -> Dispute:
        dispute_id = parse_name(name, "disputes")
        async with self._store.read() as tx:
            dispute = await tx.disputes.get(ctx.tenant_id, dispute_id)
        if dispute is None:
            raise NotFound(name)
        return dispute

    async def list(
        self, ctx: CallContext, customer: str, page_size: int, page_token: str
    ) -> DisputePage:
        customer_id = parse_name(customer, "customers", "customer")
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.disputes.list_after(ctx.tenant_id, customer_id, after, limit + 1)
            if not rows and await tx.customers.get(ctx.tenant_id, customer_id) is None:
                raise NotFound(customer)
        page = rows[:limit]
        return DisputePage(page, encode_page_token(page[-1].id) if len(rows) > limit else "")


async def apply_dispute(
    tx: Transaction,
    tenant_id: str,
    attempt: PaymentAttempt,
    facts: DisputeFacts,
    at: datetime,
    *,
    actor: str,
    request_id: str,
) -> str:
    """Apply what the gateway said about a dispute of the attempt's charge; what changed, in
    words (the webhook's outcome)."""
    payment = await tx.payments.for_attempt(tenant_id, attempt.id)
    if payment is None:
        return f"ignored: {attempt.name} took no payment to dispute ({attempt.status.value})"
    # The payment locked first: its amounts change with the dispute, one writer at a time.
    payment = await tx.payments.get(tenant_id, payment.id, lock=True)
    assert payment is not None
    existing = await tx.disputes.by_gateway_id(tenant_id, facts.gateway, facts.gateway_dispute_id)
    change = dispute_change(
        existing,
        facts,
        new_id=new_id("dp"),
        payment_id=payment.id,
        attempt_id=attempt.id,
        customer_id=payment.customer_id,
    )
    if change is None:
        assert existing is not None
        return f"{existing.name} already {existing.status.value}"
    dispute = change.dispute
    if change.created:
        await tx.disputes.insert(tenant_id, dispute)
    else:
        assert existing is not None and change.expected is not None
        if not await tx.disputes.update(tenant_id, dispute, change.expected, existing.version):
            raise RetryableConflict(f"{existing.name} changed while a webhook was applied")
    disputed = payment.disputed_minor + change.disputed_delta_minor
    if change.disputed_delta_minor:
        await tx.payments.update_amounts(tenant_id, payment.id, payment.refunded_minor, disputed)
    details: dict[str, object] = {
        "payment": payment.name,
        "payment_attempt": attempt.name,
        "customer": f"customers/{payment.customer_id}",
        "gateway": dispute.gateway,
        "gateway_dispute_id": dispute.gateway_dispute_id,
        "amount_minor": dispute.amount_minor,
        "fee_minor": dispute.fee_minor,
        "currency": dispute.currency,
        "status": dispute.status.value,
        "reason": dispute.reason,
        "payment_disputed_minor": disputed,
        "invoices": [f"invoices/{a.invoice_id}" for a in payment.allocations],
    }
    await post_facts(tx, tenant_id, dispute_moved(dispute, change.expected), at)
    event = OutboxEvent(new_id("evt"), tenant_id, change.event, dispute.name, details, at)
    await tx.outbox.add(event)
    audit = AuditRecord(
        new_id("aud"), tenant_id, actor, AUDIT_METHOD, request_id, b"", dispute.name,
        dispute.status.value, details, at,
    )  # fmt: skip
    await tx.audit.add(audit)
    return change.outcome
