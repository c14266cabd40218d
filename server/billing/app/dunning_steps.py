"""`dunning_step` (ADR 0043): the one scheduled item of an active case, due at its
`next_at`. `prepare` makes a retry's charge (outside any transaction, source
`dunning_retry`, keyed by the item's id so a rerun answers with the same attempt); `handle`
records it or does the step, then the steps due at that instant, and schedules the next
event or ends the case `exhausted`. An item whose due time is not its case's `next_at`, or
whose case is not active, is stale: it does nothing (a pause, a resume or a recovery just
moved `next_at`).

What the item does is computed again from the case and its policy, never read from the
payload: an event that moved onto another's instant shares its item.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from billing.app.context import CallContext, Write
from billing.app.dunning_declines import take_outcome
from billing.app.dunning_progress import Progress
from billing.app.dunning_records import ACTOR, Moment, advanced, save
from billing.app.dunning_recovery import close, invoice_paid
from billing.app.payment_application import still_owed
from billing.app.payment_charges import ChargeOrder, Charges
from billing.app.ports import DueItem, RetryableConflict, Store, Transaction
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    EntryKind,
    EventKind,
    TimelineEntry,
    next_event,
    retry_name,
)
from billing.domain.errors import InvalidState, NotFound
from billing.domain.invoices import InvoiceStatus
from billing.domain.payments import PaymentAttempt

RETRY_SOURCE = "dunning_retry"
_METHOD = "DunningStep"


def stale(case: DunningCase, item: DueItem) -> bool:
    return case.status is not CaseStatus.ACTIVE or case.next_at != item.due_at


class Steps:
    def __init__(self, store: Store, charges: Charges, progress: Progress) -> None:
        self._store = store
        self._charges = charges
        self._progress = progress

    # --- prepare: the retry's charge ----------------------------------------------------

    async def prepare(self, item: DueItem) -> DueItem:
        payload = json.loads(item.payload)
        async with self._store.read() as tx:
            case = await tx.dunning_cases.get(item.tenant_id, payload["case_id"])
            if case is None or stale(case, item):
                return item
            policy = await self._progress.policy_of(tx, item.tenant_id, case)
        event = next_event(policy, case)
        if event is None or event.kind is not EventKind.RETRY:
            return item
        retry = {"index": event.index, **await self._charge(item, case)}
        return replace(item, payload=json.dumps({**payload, "retry": retry}))

    async def _charge(self, item: DueItem, case: DunningCase) -> dict[str, str]:
        """The charge write pattern, as automatic collection runs it; a charge the invoice
        refuses (an attempt still unsettled, nothing owed, no route) skips the retry."""
        ctx = CallContext(item.tenant_id, ACTOR, "DunningRetry", item.id)
        order = ChargeOrder(case.invoice_id, None, None, "", RETRY_SOURCE)
        try:
            attempt = await self._charges.charge(ctx, Write(item.id, item.id.encode(), order))
        except (InvalidState, NotFound) as exc:
            return {"attempt_id": "", "skipped": str(exc)}
        if attempt is None:
            return {"attempt_id": "", "skipped": "no payment method"}
        return {"attempt_id": attempt.id, "skipped": ""}

    # --- handle ---------------------------------------------------------------------------

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        tenant_id, at = item.tenant_id, item.due_at
        now = Moment(tenant_id, at, item.id, _METHOD)
        payload = json.loads(item.payload)
        case = await tx.dunning_cases.get(tenant_id, payload["case_id"])
        if case is None:
            return f"skip dunning step: dunningCases/{payload['case_id']} is gone"
        retry: dict[str, Any] | None = payload.get("retry")
        if stale(case, item):
            if retry is not None and _paid_by(case, retry):
                return await self._retry_that_paid(tx, now, case, retry)
            return f"skip stale dunning step of {case.name}"
        # Locked first, as payments lock it: the case's writers take turns on its invoice.
        invoice = await tx.invoices.get(tenant_id, case.invoice_id, lock=True)
        # Settled without its case hearing of it: ended now, nothing done to the customer.
        if invoice is not None and invoice.status is InvoiceStatus.PAID:
            await invoice_paid(tx, tenant_id, invoice, at, item.id)
            return f"{case.name} recovered: {invoice.name} is paid"
        if invoice is None or still_owed(invoice) <= 0:
            await close(tx, tenant_id, case, at, item.id, "nothing is owed on the invoice")
            return f"close {case.name}: nothing owed"
        policy = await self._progress.policy_of(tx, tenant_id, case)
        after = advanced(case, at)
        done: list[str] = []
        event = next_event(policy, case)
        if event is not None and event.kind is EventKind.RETRY:
            if retry is None or retry["index"] != event.index:
                raise RetryableConflict(f"{case.name} moved after its retry was prepared")
            attempt = await _attempt(tx, tenant_id, retry)
            after = await _record_retry(tx, now, after, retry, attempt)
            if attempt is not None:
                # At once, so a hard decline stops the next retry before it is scheduled.
                after = await take_outcome(tx, now, after, attempt, policy)
            done.append(f"{retry_name(retry['index'])}: {_what(retry, attempt)}")
        # The steps of this instant (a step, or those after the retry just made).
        after, stepped = await self._progress.advance(tx, now, after, policy, invoice)
        await save(tx, tenant_id, after, case)
        return f"{case.name}: {'; '.join(done + stepped) or 'nothing due'}"

    async def _retry_that_paid(
        self, tx: Transaction, now: Moment, case: DunningCase, retry: dict[str, Any]
    ) -> str:
        """The retry's payment recovered the case in its own outcome transaction: the retry
        goes on the timeline, before the recovery it made."""
        attempt = await _attempt(tx, now.tenant_id, retry)
        after = await _record_retry(tx, now, advanced(case, now.at), retry, attempt)
        *before, recovery, made = after.timeline
        if recovery.kind is EntryKind.RECOVERED:
            after = replace(after, timeline=(*before, made, recovery))
        await save(tx, now.tenant_id, after, case)
        return f"{retry_name(retry['index'])} of {case.name}: {_what(retry, attempt)}"


def _paid_by(case: DunningCase, retry: dict[str, Any]) -> bool:
    return (
        bool(retry.get("attempt_id"))
        and case.status is CaseStatus.RECOVERED
        and case.retries_done == retry["index"]
    )


async def _attempt(tx: Transaction, tenant_id: str, retry: dict[str, Any]) -> PaymentAttempt | None:
    if not retry.get("attempt_id"):
        return None
    return await tx.payment_attempts.get(tenant_id, retry["attempt_id"])


async def _record_retry(
    tx: Transaction,
    now: Moment,
    case: DunningCase,
    retry: dict[str, Any],
    attempt: PaymentAttempt | None,
) -> DunningCase:
    index = retry["index"]
    entry = TimelineEntry(
        now.at,
        EntryKind.RETRY,
        retry_name(index),
        _what(retry, attempt),
        attempt.id if attempt is not None else "",
    )
    case = replace(case, retries_done=case.retries_done + 1, timeline=(*case.timeline, entry))
    await now.event(
        tx,
        "dunning.retried",
        case,
        index=index,
        attempt=attempt.name if attempt is not None else None,
        attempt_status=attempt.status.value if attempt is not None else None,
        decline_code=attempt.decline_code if attempt is not None else "",
        skipped=retry.get("skipped", ""),
    )
    await now.audit(
        tx,
        case.name,
        "retry",
        {"index": index, "attempt": attempt.name if attempt is not None else None},
    )
    return case


def _what(retry: dict[str, Any], attempt: PaymentAttempt | None) -> str:
    if attempt is None:
        return f"skipped: {retry.get('skipped') or 'no attempt'}"
    code = f" ({attempt.decline_code})" if attempt.decline_code else ""
    return f"{attempt.name} {attempt.status.value}{code}"
