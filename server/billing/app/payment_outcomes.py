"""Recording what a gateway answered about an attempt (ADR 0034, step 3 of the write pattern),
whoever learned it: the PayInvoice call, automatic collection, the reconciler's lookup or a
webhook. One short transaction: a compare-and-set of the attempt along
`ATTEMPT_TRANSITIONS`, its event and audit record, and on success the payment, its
allocation to the invoice, the invoice's paid amount and any overpayment as credit.

An answer that moves nothing (a settled attempt, a pending or not-found answer) returns the
attempt unchanged: late, duplicate and reordered answers are harmless.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Any

from billing.app.dunning_kinds import DUNNING_ATTEMPT_FAILED
from billing.app.ids import new_id
from billing.app.payment_application import apply_payment, still_owed
from billing.app.ports import DueItem, RetryableConflict, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.invoices import Invoice
from billing.domain.payment_rules import PaymentRules
from billing.domain.payments import (
    Allocation,
    AttemptStatus,
    Payment,
    PaymentAttempt,
    PaymentSource,
    can_move,
)
from billing.plugins.engines import GatewayOutcome, GatewayStatus
from billing.rules.model import RuleSet

AUDIT_METHOD = "PaymentOutcome"  # the audit trail's "method" for outcomes, whoever learned them
# Sources whose failures dunning takes up (ADR 0043); a PayInvoice caller is told at once.
DUNNED_SOURCES = frozenset({"automatic_collection", "dunning_retry"})
DUNNED_STATUSES = frozenset({AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION})

_TARGETS = {
    GatewayStatus.SUCCEEDED: AttemptStatus.SUCCEEDED,
    GatewayStatus.FAILED: AttemptStatus.FAILED,
    GatewayStatus.REQUIRES_ACTION: AttemptStatus.REQUIRES_ACTION,
    GatewayStatus.UNKNOWN: AttemptStatus.UNKNOWN,
}


class AttemptMissing(LookupError):
    """The attempt is not stored (another tenant's, or a made-up id)."""


def target_status(current: AttemptStatus, outcome: GatewayStatus) -> AttemptStatus | None:
    """Where the outcome moves an attempt at `current`, or None when it moves nothing."""
    target = _TARGETS.get(outcome)
    if target is None or not can_move(current, target):
        return None
    return target


async def record_outcome(
    tx: Transaction,
    tenant_id: str,
    attempt: PaymentAttempt,
    outcome: GatewayOutcome,
    at: datetime,
    rules: PaymentRules | RuleSet | None = None,
    *,
    actor: str,
    request_id: str,
    as_written: bool = False,
) -> PaymentAttempt:
    """Compare-and-set the attempt to the outcome; returns the attempt as stored afterwards.
    `rules` (the payment rules, or the rule set holding them) is for policies that depend on
    them; none does yet. `as_written`: `attempt` is exactly what this process last wrote (the
    intent's own attempt), so the compare-and-set is tried on it straight away, without
    reading the row first; if the row moved meanwhile it is read, locked, as always."""
    moved: PaymentAttempt | None = None
    current = attempt
    if as_written:
        target = target_status(attempt.status, outcome.status)
        if target is not None:
            moved = _moved(attempt, target, outcome, at)
            if not await tx.payment_attempts.update(
                tenant_id, moved, attempt.status, attempt.version
            ):
                moved = None  # settled or moved meanwhile (a webhook, the reconciler)
    if moved is None:
        found = await tx.payment_attempts.get(tenant_id, attempt.id, lock=True)
        if found is None:
            raise AttemptMissing(attempt.name)
        current = found
        target = target_status(current.status, outcome.status)
        if target is None:
            return await _remember_reference(tx, tenant_id, current, outcome, at)
        moved = _moved(current, target, outcome, at)
        if not await tx.payment_attempts.update(tenant_id, moved, current.status, current.version):
            raise RetryableConflict(f"{current.name} changed while its outcome was recorded")
    target = moved.status
    await tx.outbox.add(
        OutboxEvent(
            new_id("evt"),
            tenant_id,
            f"payment_attempt.{target.value}",
            moved.name,
            attempt_event(moved),
            at,
        )
    )
    await tx.audit.add(
        AuditRecord(
            new_id("aud"),
            tenant_id,
            actor,
            AUDIT_METHOD,
            request_id,
            b"",
            moved.name,
            target.value,
            {
                "from": current.status.value,
                "gateway_reference": moved.gateway_reference,
                "decline_code": moved.decline_code,
                "gateway_code": outcome.gateway_code,
            },
            at,
        )
    )
    if target is AttemptStatus.SUCCEEDED:
        taken = outcome.amount_minor if outcome.amount_minor is not None else moved.amount_minor
        payment_id = await _received(tx, tenant_id, moved, taken, at)
        moved = replace(moved, payment_id=payment_id)
    elif target in DUNNED_STATUSES:
        await schedule_dunning(tx, tenant_id, moved, at)
    return moved


async def schedule_dunning(
    tx: Transaction,
    tenant_id: str,
    attempt: PaymentAttempt,
    at: datetime,
    clock_id: str | None = None,
    *,
    clock_known: bool = False,
) -> None:
    """A failed (or requires-action) charge the customer was away for: a
    `dunning_attempt_failed` item at `at` on the customer's clock opens the invoice's case or
    applies the outcome to it (ADR 0043). `clock_known`: `clock_id` is the customer's
    (saves the read)."""
    if attempt.source not in DUNNED_SOURCES or attempt.invoice_id is None:
        return
    if not clock_known:
        customer = await tx.customers.get(tenant_id, attempt.customer_id)
        clock_id = customer.clock_id if customer is not None else None
    await tx.due_work.schedule(
        DueItem(
            tenant_id,
            new_id("due"),
            DUNNING_ATTEMPT_FAILED,
            attempt.id,
            clock_id,
            at,
            json.dumps({"attempt_id": attempt.id}),
        )
    )


def _moved(
    current: PaymentAttempt, target: AttemptStatus, outcome: GatewayOutcome, at: datetime
) -> PaymentAttempt:
    return replace(
        current,
        status=target,
        gateway_reference=outcome.reference or current.gateway_reference,
        decline_code=(outcome.decline_code or "generic_decline")
        if target is AttemptStatus.FAILED
        else "",
        failure_message=outcome.message if target is AttemptStatus.FAILED else "",
        action_url=outcome.action_url if target is AttemptStatus.REQUIRES_ACTION else "",
        updated_at=at,
        version=current.version + 1,
    )


async def _remember_reference(
    tx: Transaction,
    tenant_id: str,
    current: PaymentAttempt,
    outcome: GatewayOutcome,
    at: datetime,
) -> PaymentAttempt:
    """An answer that moves nothing may still name the charge (pending at the gateway): kept,
    so lookups and webhooks can find it by reference."""
    if current.settled or not outcome.reference or current.gateway_reference:
        return current
    named = replace(
        current, gateway_reference=outcome.reference, updated_at=at, version=current.version + 1
    )
    if not await tx.payment_attempts.update(tenant_id, named, current.status, current.version):
        raise RetryableConflict(f"{current.name} changed while its reference was recorded")
    return named


async def _received(
    tx: Transaction, tenant_id: str, attempt: PaymentAttempt, taken: int, at: datetime
) -> str:
    """The money a succeeded attempt took: to its invoice as far as it still owes, the rest
    (an invoice paid meanwhile by other means, or an overcharge) to the credit balance."""
    invoices: dict[str, Invoice] = {}
    allocations: tuple[Allocation, ...] = ()
    if attempt.invoice_id is not None:
        invoice = await tx.invoices.get(tenant_id, attempt.invoice_id, lock=True)
        if invoice is not None:
            share = min(taken, still_owed(invoice))
            if share > 0:
                invoices[invoice.id] = invoice
                allocations = (Allocation(invoice.id, share),)
    allocated = sum(a.amount_minor for a in allocations)
    payment = Payment(
        id=new_id("pmt"),
        customer_id=attempt.customer_id,
        amount_minor=taken,
        currency=attempt.currency,
        source=PaymentSource.GATEWAY,
        received_at=at,
        allocations=allocations,
        to_credit_minor=taken - allocated,
        attempt_id=attempt.id,
    )
    await apply_payment(tx, tenant_id, payment, invoices, at, clearing=attempt.gateway)
    return payment.id


def attempt_event(attempt: PaymentAttempt) -> dict[str, object]:
    return {
        "customer": f"customers/{attempt.customer_id}",
        "invoice": f"invoices/{attempt.invoice_id}" if attempt.invoice_id else None,
        "payment_method": f"paymentMethods/{attempt.payment_method_id}",
        "gateway": attempt.gateway,
        "amount_minor": attempt.amount_minor,
        "currency": attempt.currency,
        "status": attempt.status.value,
        "gateway_reference": attempt.gateway_reference,
        "decline_code": attempt.decline_code,
        "fraud_outcome": attempt.fraud_outcome.value,
        "source": attempt.source,
    }


def outcome_to_dict(outcome: GatewayOutcome) -> dict[str, Any]:
    """A gateway's answer as JSON, carried from a due item's prepare (outside any
    transaction) to its handle (inside one)."""
    return {
        "status": outcome.status.value,
        "reference": outcome.reference,
        "decline_code": outcome.decline_code,
        "gateway_code": outcome.gateway_code,
        "message": outcome.message,
        "action_url": outcome.action_url,
        "amount_minor": outcome.amount_minor,
    }


def outcome_from_dict(data: dict[str, Any]) -> GatewayOutcome:
    return GatewayOutcome(
        GatewayStatus(data["status"]),
        data.get("reference", ""),
        data.get("decline_code", ""),
        data.get("gateway_code", ""),
        data.get("message", ""),
        data.get("action_url", ""),
        data.get("amount_minor"),
    )
