"""`dunning_attempt_failed` (ADR 0043): a charge the customer was away for failed (or needs
them). The first one of an invoice, by automatic collection, opens its case under the policy
the active rules choose; any later one (a retry's, or one the reconciler settled late) is
applied to the open case: its decline on the timeline, a hard one stopping the retries and
asking for a new method, a requires-action one sending the authentication link.
"""

from __future__ import annotations

from billing.app.dunning_declines import declined_as, take_outcome
from billing.app.dunning_progress import Progress
from billing.app.dunning_records import Moment, advanced, noted, save
from billing.app.ids import new_id
from billing.app.payment_application import still_owed
from billing.app.ports import DueItem, Transaction
from billing.app.rules import RuleUseCases
from billing.domain.dunning import CaseStatus, DunningCase, EntryKind
from billing.domain.invoices import Invoice
from billing.domain.payments import PaymentAttempt

OPENING_SOURCE = "automatic_collection"  # a PayInvoice caller is told; retries have a case
_METHOD = "DunningAttemptFailed"


async def attempt_failed(
    tx: Transaction, item: DueItem, rules: RuleUseCases, progress: Progress
) -> str:
    tenant_id, at = item.tenant_id, item.due_at
    now = Moment(tenant_id, at, item.id, _METHOD)
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
        return await _open(tx, now, rules, progress, attempt, invoice)
    if not case.open:
        return f"skip {attempt.name}: {case.name} is {case.status.value}"
    policy = await progress.policy_of(tx, tenant_id, case)
    after = await take_outcome(tx, now, advanced(case, at), attempt, policy)
    if after.timeline == case.timeline:
        return f"skip {attempt.name}: already on {case.name}"
    if after.retries_stopped != case.retries_stopped and after.status is CaseStatus.ACTIVE:
        # The retry the case was waiting for will not come: its next event is a step.
        after, _ = await progress.advance(tx, now, after, policy, invoice)
    await save(tx, tenant_id, after, case)
    return f"{attempt.name} {attempt.status.value} on {case.name}"


async def _open(
    tx: Transaction,
    now: Moment,
    rules: RuleUseCases,
    progress: Progress,
    attempt: PaymentAttempt,
    invoice: Invoice,
) -> str:
    tenant_id, at = now.tenant_id, now.at
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
    await now.event(
        tx,
        "dunning.opened",
        case,
        attempt=attempt.name,
        decline_code=code,
        amount_minor=owed,
        currency=case.currency,
        rule_set=case.rule_set,
    )
    if hold is not None:
        # Finance holds this customer's dunning: nothing happens until ResumeDunning.
        case = noted(case, at, EntryKind.PAUSED, "hold", hold.reason)
        await now.event(tx, "dunning.paused", case, reason=hold.reason)
    case = await take_outcome(tx, now, case, attempt, policy)
    await now.audit(
        tx,
        case.name,
        "open",
        {"invoice": invoice.name, "policy": policy.name, "rule_set": case.rule_set},
    )
    # The steps of the first failure's instant (a day-0 notice) are done right here.
    case, _ = await progress.advance(tx, now, case, policy, invoice)
    await tx.dunning_cases.insert(tenant_id, case)
    return f"open {case.name} for {invoice.name} ({policy.name})"
