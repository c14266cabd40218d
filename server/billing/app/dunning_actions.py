"""What a dunning step does (ADR 0043 "Actions"), inside the step's transaction: each
action moves one resource by compare-and-set, writes its event and the audit record (actor
`system:dunning`) on that resource. A resource already past the action (a subscription
canceled meanwhile) is left as it is and the step counts as done."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from billing.app.books import post_facts
from billing.app.dunning_records import Moment, emit, last_attempt
from billing.app.mrr import track as track_mrr
from billing.app.ports import RetryableConflict, Transaction
from billing.app.subscriptions import SubscriptionUseCases
from billing.domain import postings
from billing.domain.dunning import Action, DunningCase, DunningStep
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import Status, Subscription, ending_at_period_end, moved

REASON = "dunning"


@dataclass(frozen=True)
class StepRun:
    """One step about to be done, and the case as it stands."""

    now: Moment
    case: DunningCase
    step: DunningStep
    name: str  # the step's name on timelines and events
    invoice: Invoice

    @property
    def tenant_id(self) -> str:
        return self.now.tenant_id

    @property
    def at(self) -> datetime:
        return self.now.at


class Actions:
    def __init__(self, subscriptions: SubscriptionUseCases) -> None:
        self._subscriptions = subscriptions  # its own cancellation, for cancel_now

    async def do(self, tx: Transaction, run: StepRun) -> tuple[DunningCase, str]:
        """Do the step's action; returns the case (a suspension is a flag on it) and what
        was done, in plain words, for the timeline."""
        action = run.step.action
        if action is Action.NOTICE:
            await run.now.notice(
                tx,
                run.case,
                template=run.step.template,
                channel=run.step.channel,
                step=run.name,
                attempt_id=last_attempt(run.case),
            )
            return run.case, f"notice {run.step.template} by {run.step.channel}"
        if action is Action.MARK_UNCOLLECTIBLE:
            return run.case, await self._uncollectible(tx, run)
        sub = (
            await tx.subscriptions.get(run.tenant_id, run.case.subscription_id)
            if run.case.subscription_id
            else None
        )
        if sub is None:
            return run.case, f"{action.value}: the invoice has no subscription"
        if action is Action.SUSPEND:
            await emit(
                tx,
                run.tenant_id,
                "subscription.suspended",
                sub.name,
                {"status": sub.status.value, "dunning_case": run.case.name, "reason": REASON},
                run.at,
            )
            await self._audit(tx, run, sub.name, {"suspended": True})
            return replace(run.case, suspended=True), f"{sub.name} suspended"
        if sub.status is Status.CANCELED:
            return run.case, f"{action.value}: {sub.name} is already canceled"
        if action is Action.CANCEL_NOW:
            ended = await self._subscriptions.end_now(tx, run.tenant_id, sub, run.at)
            await self._save(tx, run, ended, sub, "subscription.canceled")
            return run.case, f"{sub.name} canceled"
        if action is Action.CANCEL_AT_PERIOD_END:
            if sub.cancel_at_period_end:
                return run.case, f"{sub.name} already ends at its period end"
            ending = ending_at_period_end(sub)
            await self._save(tx, run, ending, sub, "subscription.updated")
            return run.case, f"{sub.name} ends {ending.period_end.isoformat()}"
        target = Status.PAST_DUE if action is Action.MARK_PAST_DUE else Status.UNPAID
        if sub.status not in {Status.ACTIVE, Status.PAST_DUE} or sub.status is target:
            return run.case, f"{action.value}: {sub.name} is {sub.status.value}"
        # active -> past_due (-> unpaid): through the lifecycle's table, step by step
        via = sub.status if sub.status is Status.PAST_DUE else moved(sub.status, Status.PAST_DUE)
        status = moved(via, target)
        await self._save(
            tx,
            run,
            replace(sub, status=status, version=sub.version + 1),
            sub,
            f"subscription.{target.value}",
        )
        return run.case, f"{sub.name} {sub.status.value} -> {target.value}"

    async def _uncollectible(self, tx: Transaction, run: StepRun) -> str:
        invoice = run.invoice
        if invoice.status is not InvoiceStatus.OPEN:
            return f"mark_uncollectible: {invoice.name} is {invoice.status.value}"
        # Written off but still owed: a late payment still pays it and recovers the case.
        marked = replace(
            invoice,
            status=InvoiceStatus.UNCOLLECTIBLE,
            uncollectible_at=run.at,
            version=invoice.version + 1,
        )
        if not await tx.invoices.update_status(
            run.tenant_id, marked, invoice.version, invoice.status
        ):
            raise RetryableConflict(f"{invoice.name} changed while dunning marked it")
        # The same write-off as MarkInvoiceUncollectible's: receivable to bad debt.
        await post_facts(tx, run.tenant_id, postings.written_off(invoice), run.at)
        await emit(
            tx,
            run.tenant_id,
            "invoice.marked_uncollectible",
            invoice.name,
            {
                "number": invoice.number,
                "remaining_minor": invoice.remaining_minor,
                "currency": invoice.currency,
                "dunning_case": run.case.name,
                "reason": REASON,
            },
            run.at,
        )
        await self._audit(tx, run, invoice.name, {"status": marked.status.value})
        return f"{invoice.name} marked uncollectible"

    async def _save(
        self,
        tx: Transaction,
        run: StepRun,
        sub: Subscription,
        read: Subscription,
        event: str,
    ) -> None:
        if not await tx.subscriptions.update(run.tenant_id, sub, read.version):
            raise RetryableConflict(f"{read.name} changed while dunning moved it")
        await track_mrr(tx, run.tenant_id, sub, run.now.at, read)
        await emit(
            tx,
            run.tenant_id,
            event,
            sub.name,
            {
                "status": sub.status.value,
                "from": read.status.value,
                "cancel_at_period_end": sub.cancel_at_period_end,
                "dunning_case": run.case.name,
                "reason": REASON,
            },
            run.at,
        )
        await self._audit(
            tx, run, sub.name, {"status": sub.status.value, "from": read.status.value}
        )

    async def _audit(
        self, tx: Transaction, run: StepRun, resource: str, changes: dict[str, object]
    ) -> None:
        await run.now.audit(
            tx,
            resource,
            run.step.action.value,
            {"dunning_case": run.case.name, "step": run.name, "reason": REASON, **changes},
        )
