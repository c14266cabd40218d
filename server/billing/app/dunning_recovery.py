"""How a dunning case ends from outside its timeline (ADR 0043), in the transaction that
settled its invoice: paid (every way money reaches it: PayInvoice, a retry, a new method,
RecordPayment, a webhook, marked paid, a credit note) -> `recovered`; voided -> `closed`.
Either way the subscription gets back what the case took (past_due / unpaid -> active,
suspension lifted), unless another open case of it still holds it.

Imported by payments' application of money: it must never import the charge path.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from billing.app.dunning_records import advanced, audit, case_event, emit, noted, save
from billing.app.mrr import track as track_mrr
from billing.app.ports import RetryableConflict, Transaction
from billing.domain.dunning import OPEN_STATUSES, CaseStatus, DunningCase, EntryKind
from billing.domain.invoices import Invoice
from billing.domain.subscriptions import Status, moved

# An exhausted case still waits for its money: a late payment recovers it.
RECOVERABLE = OPEN_STATUSES | {CaseStatus.EXHAUSTED}
_HELD = frozenset({Status.PAST_DUE, Status.UNPAID})
_METHOD = "DunningRecovery"


async def invoice_paid(
    tx: Transaction,
    tenant_id: str,
    invoice: Invoice,
    at: datetime,
    by: str,
    *,
    outside: bool = False,
) -> DunningCase | None:
    """`invoice` has just become paid (`by`: the payment's or the call's name): its case, if
    one is open or exhausted, is recovered. One indexed read when there is none. `outside`:
    marked paid, the money received outside payments (all the case chased came in)."""
    case = await tx.dunning_cases.for_invoice(tenant_id, invoice.id)
    if case is None or case.status not in RECOVERABLE:
        return None
    paid = case.amount_minor if outside else invoice.paid_minor
    recovered_minor = min(case.amount_minor, paid)
    ended = noted(
        _ended(case, at, CaseStatus.RECOVERED, recovered_minor=recovered_minor),
        at,
        EntryKind.RECOVERED,
        by,
    )
    await save(tx, tenant_id, ended, case)
    await case_event(
        tx,
        tenant_id,
        "dunning.recovered",
        ended,
        at,
        recovered_minor=recovered_minor,
        currency=ended.currency,
        by=by,
    )
    await audit(tx, tenant_id, _METHOD, "", ended.name, "recover", {"by": by}, at)
    await lift(tx, tenant_id, case, at, "dunning_recovered")
    return ended


async def invoice_voided(
    tx: Transaction, tenant_id: str, invoice: Invoice, at: datetime, by: str
) -> DunningCase | None:
    """`invoice` has just been voided: nothing is left to recover, its open case closes."""
    case = await tx.dunning_cases.for_invoice(tenant_id, invoice.id)
    if case is None or not case.open:
        return None
    return await close(tx, tenant_id, case, at, by, "the invoice was voided")


async def close(
    tx: Transaction, tenant_id: str, case: DunningCase, at: datetime, by: str, why: str
) -> DunningCase:
    ended = noted(_ended(case, at, CaseStatus.CLOSED), at, EntryKind.CLOSED, by, why)
    await save(tx, tenant_id, ended, case)
    await case_event(tx, tenant_id, "dunning.closed", ended, at, reason=why)
    await audit(tx, tenant_id, _METHOD, "", ended.name, "close", {"by": by, "reason": why}, at)
    await lift(tx, tenant_id, case, at, "dunning_closed")
    return ended


def _ended(case: DunningCase, at: datetime, status: CaseStatus, **more: Any) -> DunningCase:
    """The next version of `case`, ended at `at` (recovered or closed): nothing scheduled,
    paused or suspended any more."""
    return replace(
        advanced(case, at),
        status=status,
        next_at=None,
        paused_at=None,
        suspended=False,
        ended_at=at,
        **more,
    )


async def lift(
    tx: Transaction, tenant_id: str, case: DunningCase, at: datetime, reason: str
) -> None:
    """Undo what `case` did to its subscription: past_due / unpaid back to active, and its
    suspension lifted, unless another open case of the subscription still holds it."""
    if case.subscription_id is None:
        return
    sub = await tx.subscriptions.get(tenant_id, case.subscription_id)
    if sub is None:
        return
    others = [
        c
        for c in await tx.dunning_cases.open_for_customer(tenant_id, case.customer_id)
        if c.subscription_id == sub.id and c.id != case.id
    ]
    if case.suspended and not any(c.suspended for c in others):
        await emit(
            tx,
            tenant_id,
            "subscription.unsuspended",
            sub.name,
            {"status": sub.status.value, "dunning_case": case.name, "reason": reason},
            at,
        )
    if others or sub.status not in _HELD:
        return
    restored = replace(sub, status=moved(sub.status, Status.ACTIVE), version=sub.version + 1)
    if not await tx.subscriptions.update(tenant_id, restored, sub.version):
        raise RetryableConflict(f"{sub.name} changed while its dunning case ended")
    await track_mrr(tx, tenant_id, restored, at, sub)
    await emit(
        tx,
        tenant_id,
        "subscription.updated",
        sub.name,
        {
            "status": restored.status.value,
            "from": sub.status.value,
            "dunning_case": case.name,
            "reason": reason,
        },
        at,
    )
