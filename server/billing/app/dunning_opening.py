"""`dunning_attempt_failed` (ADR 0043): a charge the customer was away for failed (or needs
them). The first one of an invoice, by automatic collection, opens its case under the policy
the active rules choose; any later one (a retry's, or one the reconciler settled late) is
applied to the open case: its decline on the timeline, a hard one stopping the retries and
asking for a new method, a requires-action one sending the authentication link.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from billing.app.dunning_records import (
    advanced,
    audit,
    case_event,
    noted,
    save,
    schedule_notice,
)
from billing.app.dunning_schedule import schedule_next
from billing.app.ids import new_id
from billing.app.payment_application import still_owed
from billing.app.ports import DueItem, ParkItem, Transaction
from billing.app.rules import RuleUseCases
from billing.domain.dunning import (
    CaseStatus,
    DunningCase,
    DunningPolicy,
    EntryKind,
)
from billing.domain.invoices import Invoice
from billing.domain.payments import AttemptStatus, PaymentAttempt

OPENING_SOURCE = "automatic_collection"  # a PayInvoice caller is told; retries have a case
AUTHENTICATION_REQUIRED = "authentication_required"  # the normalized code of requires_action
_METHOD = "DunningAttemptFailed"


async def attempt_failed(tx: Transaction, item: DueItem, rules: RuleUseCases) -> str:
    tenant_id, at = item.tenant_id, item.due_at
    attempt = await tx.payment_attempts.get(tenant_id, item.subscription_id)
    if attempt is None or attempt.invoice_id is None:
        return f"skip dunning of paymentAttempts/{item.subscription_id}: no invoice"
    # Locked as payments lock it: a payment being applied is either seen here as paid or
    # sees the case this opens.
    invoice = await tx.invoices.get(tenant_id, attempt.invoice_id, lock=True)
    if invoice is None:
        return f"skip dunning of {attempt.name}: invoices/{attempt.invoice_id} is gone"
    case = await tx.dunning_cases.for_invoice(tenant_id, invoice.id, lock=True)
    if case is None:
        return await _open(tx, item, rules, attempt, invoice)
    if not case.open:
        return f"skip {attempt.name}: {case.name} is {case.status.value}"
    policy = await policy_of(tx, rules, tenant_id, case)
    after = await take_outcome(tx, tenant_id, advanced(case, at), attempt, policy, at)
    if after.timeline == case.timeline:
        return f"skip {attempt.name}: already on {case.name}"
    if after.retries_stopped != case.retries_stopped and after.status is CaseStatus.ACTIVE:
        # The retry the case was waiting for will not come: its next event is a step.
        after = await schedule_next(tx, tenant_id, after, policy, at)
        if after.next_at is None:
            after = await exhaust(tx, tenant_id, after, at, item.id)
    await save(tx, tenant_id, after, case)
    return f"{attempt.name} {attempt.status.value} on {case.name}"


async def _open(
    tx: Transaction,
    item: DueItem,
    rules: RuleUseCases,
    attempt: PaymentAttempt,
    invoice: Invoice,
) -> str:
    tenant_id, at = item.tenant_id, item.due_at
    if attempt.source != OPENING_SOURCE:
        return f"skip {attempt.name}: a {attempt.source} failure opens no case"
    owed = still_owed(invoice)
    if owed <= 0:
        return f"skip {attempt.name}: {invoice.name} is {invoice.status.value}, nothing owed"
    customer = await tx.customers.get(tenant_id, invoice.customer_id)
    if customer is None:  # invoices never outlive their customer
        return f"skip {attempt.name}: customers/{invoice.customer_id} is gone"
    sub = (
        await tx.subscriptions.get(tenant_id, invoice.subscription_id)
        if invoice.subscription_id
        else None
    )
    active = await rules.active_rules_in(tx, tenant_id)
    policy = active.rules.dunning.policy_for(
        sub.plan_code if sub is not None else "",
        customer.fields.metadata.get("segment", ""),
        customer.id,
        invoice.currency,
    )
    if policy is None:
        return f"skip {attempt.name}: no dunning policy holds for {invoice.name}"
    hold = await tx.dunning_cases.hold(tenant_id, customer.id)
    code = declined_as(attempt)
    case = DunningCase(
        id=new_id("dun"),
        customer_id=customer.id,
        invoice_id=invoice.id,
        subscription_id=invoice.subscription_id,
        clock_id=customer.clock_id,
        policy=policy.name,
        rule_set=active.content_hash,
        status=CaseStatus.PAUSED if hold is not None else CaseStatus.ACTIVE,
        started_at=at,
        amount_minor=owed,
        currency=invoice.currency,
        time_zone=customer.fields.time_zone,
        first_decline_code=code,
        paused_at=at if hold is not None else None,
        created_at=at,
        updated_at=at,
    )
    case = noted(case, at, EntryKind.OPENED, policy.name, f"{attempt.name} {code}", attempt.id)
    await case_event(
        tx,
        tenant_id,
        "dunning.opened",
        case,
        at,
        attempt=attempt.name,
        decline_code=code,
        amount_minor=owed,
        currency=case.currency,
        rule_set=case.rule_set,
    )
    if hold is not None:
        # Finance holds this customer's dunning: nothing happens until ResumeDunning.
        case = noted(case, at, EntryKind.PAUSED, "hold", hold.reason)
        await case_event(tx, tenant_id, "dunning.paused", case, at, reason=hold.reason)
    case = await take_outcome(tx, tenant_id, case, attempt, policy, at)
    if case.status is CaseStatus.ACTIVE:
        # Just after this item: a step due at once (a day-0 notice) runs next.
        case = await schedule_next(tx, tenant_id, case, policy, at)
        if case.next_at is None:
            case = await exhaust(tx, tenant_id, case, at, item.id)
    await tx.dunning_cases.insert(tenant_id, case)
    await audit(
        tx,
        tenant_id,
        _METHOD,
        item.id,
        case.name,
        "open",
        {"invoice": invoice.name, "policy": policy.name, "rule_set": case.rule_set},
        at,
    )
    return f"open {case.name} for {invoice.name} ({policy.name})"


def declined_as(attempt: PaymentAttempt) -> str:
    """The normalized code an unsuccessful attempt counts as."""
    if attempt.status is AttemptStatus.REQUIRES_ACTION:
        return AUTHENTICATION_REQUIRED
    return attempt.decline_code or "generic_decline"


async def take_outcome(
    tx: Transaction,
    tenant_id: str,
    case: DunningCase,
    attempt: PaymentAttempt,
    policy: DunningPolicy,
    at: datetime,
) -> DunningCase:
    """`case` with `attempt`'s failure applied (not saved): the decline on the timeline, a
    hard one stopping the retries with the policy's `hard_notice`, a requires-action one
    sending its `requires_action_notice`. An outcome already applied (the step that made the
    retry applies it at once; the attempt's own item comes after) changes nothing."""
    if attempt.status not in {AttemptStatus.FAILED, AttemptStatus.REQUIRES_ACTION}:
        return case  # settled otherwise meanwhile (authenticated and paid)
    code = declined_as(attempt)
    if any(
        e.kind is EntryKind.DECLINE and e.attempt_id == attempt.id and e.what == code
        for e in case.timeline
    ):
        return case
    case = noted(
        replace(case, decline_code=code),
        at,
        EntryKind.DECLINE,
        code,
        attempt.failure_message,
        attempt.id,
    )
    # While paused nothing reaches the customer; the decline still counts.
    notify = case.status is CaseStatus.ACTIVE
    if attempt.status is AttemptStatus.REQUIRES_ACTION:
        template = policy.declines.requires_action_notice
        if notify and template:
            await schedule_notice(
                tx,
                tenant_id,
                case,
                at,
                template=template,
                step="requires_action",
                attempt_id=attempt.id,
            )
        return case
    if not policy.declines.is_hard(code) or case.retries_stopped:
        return case
    case = noted(
        replace(case, retries_stopped=True),
        at,
        EntryKind.RETRIES_STOPPED,
        code,
        "a hard decline: no retry can cure it",
        attempt.id,
    )
    await case_event(
        tx, tenant_id, "dunning.retries_stopped", case, at, decline_code=code, attempt=attempt.name
    )
    template = policy.declines.hard_notice
    if notify and template:
        await schedule_notice(
            tx, tenant_id, case, at, template=template, step="hard_decline", attempt_id=attempt.id
        )
    return case


async def exhaust(
    tx: Transaction,
    tenant_id: str,
    case: DunningCase,
    at: datetime,
    request_id: str,
    method: str = _METHOD,
) -> DunningCase:
    """Every retry and step done and the invoice still unpaid: the case ends `exhausted` (a
    late payment still recovers it)."""
    ended = noted(
        replace(case, status=CaseStatus.EXHAUSTED, next_at=None, ended_at=at),
        at,
        EntryKind.EXHAUSTED,
    )
    await case_event(tx, tenant_id, "dunning.exhausted", ended, at, decline_code=ended.decline_code)
    await audit(tx, tenant_id, method, request_id, ended.name, "exhaust", {}, at)
    return ended


async def policy_of(
    tx: Transaction, rules: RuleUseCases, tenant_id: str, case: DunningCase
) -> DunningPolicy:
    """The policy a case started under, from the rule set it started under: a later push
    does not change a running case."""
    version = await rules.rules_of_version(tx, tenant_id, case.rule_set)
    policy = version.rules.dunning.policies.get(case.policy) if version is not None else None
    if policy is None:
        raise ParkItem(f"{case.name}: policy {case.policy!r} of ruleSets/{case.rule_set} is gone")
    return policy
