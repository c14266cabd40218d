"""Recording what a gateway answered about a refund (ADR 0041), whoever learned it: the
CreateRefund call, the `reconcile_refund` lookup or a webhook. In the caller's transaction: a
compare-and-set of the refund along `REFUND_TRANSITIONS`; on success the payment's
`refunded_minor` rises; on failure a credit note's reserved credit goes back on the customer's
balance; the event `refund.<status>` and an audit record.

An answer that moves nothing (a settled refund, the same status again) returns the refund
as stored: late, duplicate and reordered answers are harmless.
"""

from __future__ import annotations

from datetime import datetime

from billing.app.books import post_facts
from billing.app.ids import new_id
from billing.app.ports import RetryableConflict, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.payments import Refund, RefundStatus
from billing.domain.postings import MANUAL_CLEARING, Posting, refund_succeeded
from billing.domain.refunds import settled_refund

AUDIT_METHOD = "RefundOutcome"  # the audit trail's "method" for outcomes, whoever learned them


class RefundMissing(LookupError):
    """The refund is not stored (another tenant's, or a made-up id)."""


async def record_refund_outcome(
    tx: Transaction,
    tenant_id: str,
    refund_id: str,
    to: RefundStatus,
    at: datetime,
    *,
    reference: str = "",
    message: str = "",
    actor: str,
    request_id: str,
) -> Refund:
    """Move the refund to `to` if its transitions allow; the refund as stored afterwards."""
    current = await tx.refunds.get(tenant_id, refund_id)
    if current is None:
        raise RefundMissing(f"refunds/{refund_id}")
    if settled_refund(current, to, at) is None:
        return current
    # The payment first, as CreateRefund locks it: one lock order, no deadlock.
    payment = await tx.payments.get(tenant_id, current.payment_id, lock=True)
    current = await tx.refunds.get(tenant_id, refund_id, lock=True)
    if current is None or payment is None:
        raise RefundMissing(f"refunds/{refund_id}")
    moved = settled_refund(current, to, at, reference=reference, message=message)
    if moved is None:  # settled meanwhile
        return current
    if not await tx.refunds.update(tenant_id, moved, current.status, current.version):
        raise RetryableConflict(f"{current.name} changed while its outcome was recorded")
    details: dict[str, object] = {"from": current.status.value}
    if to is RefundStatus.SUCCEEDED:
        refunded = payment.refunded_minor + moved.amount_minor
        await tx.payments.update_amounts(tenant_id, payment.id, refunded, payment.disputed_minor)
        details["payment_refunded_minor"] = refunded
        await post_facts(
            tx, tenant_id, refund_postings(moved, await _clearing(tx, tenant_id, moved)), at
        )
    if to is RefundStatus.FAILED and moved.credit_note_id is not None:
        details["credit_returned_minor"] = await return_reserved_credit(tx, tenant_id, moved)
    await add_refund_records(tx, tenant_id, moved, at, details, actor, AUDIT_METHOD, request_id)
    return moved


def refund_postings(refund: Refund, clearing: str) -> list[Posting]:
    return refund_succeeded(
        refund.name,
        refund.customer_id,
        refund.currency,
        refund.amount_minor,
        clearing,
        of_credit_note=refund.credit_note_id is not None,
    )


async def _clearing(tx: Transaction, tenant_id: str, refund: Refund) -> str:
    """The clearing account the money left: the charge's gateway, or manual."""
    if refund.attempt_id is None:
        return MANUAL_CLEARING
    attempt = await tx.payment_attempts.get(tenant_id, refund.attempt_id)
    return attempt.gateway if attempt is not None else MANUAL_CLEARING


async def return_reserved_credit(tx: Transaction, tenant_id: str, refund: Refund) -> int:
    """A failed refund of a credit note paid nothing out: the credit it reserved from the
    balance at its intent goes back there. Returns the amount given back."""
    balance = await tx.credit.balance(tenant_id, refund.customer_id, refund.currency)
    await tx.credit.set_balance(
        tenant_id, refund.customer_id, refund.currency, balance + refund.amount_minor
    )
    return refund.amount_minor


def refund_event(refund: Refund) -> dict[str, object]:
    return {
        "payment": f"payments/{refund.payment_id}",
        "customer": f"customers/{refund.customer_id}",
        "credit_note": f"creditNotes/{refund.credit_note_id}" if refund.credit_note_id else None,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "status": refund.status.value,
        "gateway_reference": refund.gateway_reference,
        "reason": refund.reason,
        "failure_message": refund.failure_message,
    }


async def add_refund_records(
    tx: Transaction,
    tenant_id: str,
    refund: Refund,
    at: datetime,
    details: dict[str, object],
    actor: str,
    method: str,
    request_id: str,
    digest: bytes = b"",
) -> None:
    """The event `refund.<status>` and the audit record of a refund's change."""
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            f"refund.{refund.status.value}",
            refund.name,
            {**refund_event(refund), **details},
            at,
        )
    )
    await tx.audit.add(
        AuditRecord(
            new_id("aud"),
            tenant_id,
            actor,
            method,
            request_id,
            digest,
            refund.name,
            refund.status.value,
            {**details, "amount_minor": refund.amount_minor},
            at,
        )
    )
