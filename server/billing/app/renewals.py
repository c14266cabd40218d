"""What due work does: renew a period, end a trial, cancel at a date.

Each handler runs in the transaction that also marks its item done, and is safe to run
twice: a cycle is invoiced only by whoever records its billing-cycle row first, and a
handler whose subscription has moved on (changed, canceled, paused) does nothing.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from billing.app.delivery import InvoiceDelivery
from billing.app.dunning_kinds import DUNNING_KINDS, SEND_DUNNING_NOTICE
from billing.app.ids import new_id
from billing.app.invoicing import (
    DELIVER,
    after_invoice,
    coupon_used,
    create_draft,
    finalize_draft,
    finalize_invoice,
    issue_invoice,
    number_at_commit,
    subscription_discount,
)
from billing.app.metered import metered_prices
from billing.app.mrr import track as track_mrr
from billing.app.payment_due_work import PaymentDueWork
from billing.app.payment_kinds import COLLECT_INVOICE, RECONCILE_ATTEMPT
from billing.app.plan_items import (
    items_for_plan,
    parse_overrides,
    parse_quantities,
    plan_at,
    repriced,
)
from billing.app.ports import DueItem, NotReady, RetryableConflict, Transaction
from billing.app.recognition import RECOGNIZE, RecognitionWork
from billing.app.records import OutboxEvent
from billing.app.refunds import RECONCILE_REFUND, Refunds
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.subscriptions import SubscriptionUseCases, cadence_of, with_plan_cadence
from billing.app.tax_id_checks import VERIFY_TAX_IDS, TaxIdChecks
from billing.app.usage import UsageUseCases
from billing.app.usage_billing import usage_lines
from billing.domain import periods
from billing.domain.invoices import Invoice, InvoiceStatus
from billing.domain.subscriptions import (
    Status,
    Subscription,
    moved,
    period_fee_lines,
    settle,
)
from billing.domain.tax_lines import with_plan
from billing.rules.model import RuleSet

log = logging.getLogger("billing.renewals")

# A shared renewal draft is finalized this long after its instant: every renewal of that
# instant is due first. Due is not done (a renewal may still run in another transaction, or
# wait for a retry after a failure), so finalizing also waits, in steps of
# CONSOLIDATION_WAIT_S of wall time, until the customer's renewals up to the instant are done.
CONSOLIDATION_DELAY = timedelta(seconds=1)
CONSOLIDATION_WAIT_S = 0.2
PAYMENT_KINDS = frozenset({COLLECT_INVOICE, RECONCILE_ATTEMPT})


class DueKindHandler(Protocol):
    """The due work of one capability: `prepare` before the item's transaction (outside
    calls), `handle` inside it."""

    async def prepare(self, item: DueItem) -> DueItem: ...

    async def handle(self, tx: Transaction, item: DueItem) -> str: ...


class DueWorkHandlers:
    def __init__(
        self, subscriptions: SubscriptionUseCases, rules: RuleUseCases, usage: UsageUseCases
    ) -> None:
        self._subscriptions = subscriptions
        self._rules = rules
        self._usage = usage
        self.delivery: InvoiceDelivery | None = None  # set by the composition root
        self.recognition: RecognitionWork | None = None  # set by the composition root
        self.tax_id_checks: TaxIdChecks | None = None  # set when a verifier is configured
        self.payments: PaymentDueWork | None = None  # set by the composition root
        self.refunds: Refunds | None = None  # set by the composition root
        # Dunning (ADR 0043): cases opened and walked; notices sent. Set by the composition root.
        self.dunning: DueKindHandler | None = None  # dunning_attempt_failed, dunning_step
        self.dunning_notices: DueKindHandler | None = None  # send_dunning_notice

    async def prepare(self, item: DueItem) -> DueItem:
        """Before the item's transaction: what it needs from outside (a registry's answer,
        a gateway's)."""
        if item.kind == VERIFY_TAX_IDS and self.tax_id_checks is not None:
            return await self.tax_id_checks.prepare(item)
        if item.kind in PAYMENT_KINDS and self.payments is not None:
            return await self.payments.prepare(item)
        if item.kind == DELIVER and self.delivery is not None:
            return await self.delivery.prepare(item)  # recorded, committed, sent (ADR 0058)
        if item.kind == RECONCILE_REFUND and self.refunds is not None:
            return await self.refunds.prepare(item)
        handler = self._dunning_handler(item.kind)
        if handler is not None:
            return await handler.prepare(item)
        return item

    def _dunning_handler(self, kind: str) -> DueKindHandler | None:
        if kind == SEND_DUNNING_NOTICE:
            return self.dunning_notices
        if kind in DUNNING_KINDS:
            return self.dunning
        return None

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        """Do the item's work; returns a short description for progress reports."""
        if item.kind == VERIFY_TAX_IDS:
            if self.tax_id_checks is None:
                return "skip tax id check: no verifier is configured"
            return await self.tax_id_checks.handle(tx, item)
        if item.kind == RECOGNIZE and self.recognition is not None:
            return await self.recognition.handle(tx, item)
        if item.kind == DELIVER and self.delivery is not None:
            return await self.delivery.handle(tx, item)  # one-off invoices have no subscription
        if item.kind in PAYMENT_KINDS or item.kind == RECONCILE_REFUND:
            return await self._payment_work(tx, item)
        if item.kind == "finalize_consolidated":
            return await self._finalize_consolidated(tx, item)
        if item.kind in DUNNING_KINDS:
            handler = self._dunning_handler(item.kind)
            if handler is None:
                return f"skip {item.kind}: dunning is not configured"
            return await handler.handle(tx, item)
        return await self._subscription_work(tx, item)

    async def _subscription_work(self, tx: Transaction, item: DueItem) -> str:
        sub = await tx.subscriptions.get(item.tenant_id, item.subscription_id)
        if sub is None:
            return f"skip {item.kind}: no subscription {item.subscription_id}"
        if item.kind == "renew":
            return await self._renew(tx, item, sub)
        if item.kind == "trial_end":
            return await self._end_trial(tx, item, sub)
        if item.kind == "cancel":
            return await self._cancel(tx, item, sub)
        if item.kind == "finalize":
            return await self._finalize(tx, item, sub)
        log.error("unknown due work kind", extra={"kind": item.kind, "id": item.id})
        return f"skip unknown kind {item.kind}"

    async def _payment_work(self, tx: Transaction, item: DueItem) -> str:
        if item.kind == RECONCILE_REFUND:
            if self.refunds is None:
                return f"skip {item.kind}: refunds are not configured"
            return await self.refunds.handle(tx, item)
        if self.payments is None:
            return f"skip {item.kind}: payments are not configured"
        return await self.payments.handle(tx, item)

    async def _renew(self, tx: Transaction, item: DueItem, sub: Subscription) -> str:
        at = item.due_at
        if sub.status in {Status.CANCELED, Status.PAUSED, Status.TRIALING}:
            return f"skip renew {sub.name}: {sub.status.value}"
        if sub.period_end != at:
            return f"skip renew {sub.name}: period ends {sub.period_end.isoformat()}"
        ends = (
            sub.cancel_at_period_end
            or (sub.cancel_at is not None and sub.cancel_at <= at)
            or (sub.term_end is not None and not sub.auto_renew and at >= sub.term_end)
        )
        if ends:
            ended = await self._subscriptions.end_now(tx, item.tenant_id, sub, at)
            await self._save(tx, item, ended, sub, "subscription.canceled")
            return f"end {sub.name}"
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        # The closed period is priced under the plan in force during it; a due change or
        # phase takes effect for the new period only.
        closing = sub
        if sub.pending_change is not None and sub.pending_change.effective_at <= at:
            sub = replace(
                sub,
                plan_code=sub.pending_change.plan_code,
                items=sub.pending_change.items,
                pending_change=None,
            )
            sub = with_plan_cadence(sub, active.rules, at)  # another interval starts at `at`
        period = periods.period_at(sub.anchor, cadence_of(sub), at, sub.time_zone)
        # List price versions in force at the new period's start apply; negotiated ones stay.
        sub = replace(sub, items=repriced(active.rules, sub.items, sub.plan_code, sub.currency, at))
        sub = self._enter_phase(active.rules, sub, period.index, at)
        renewed = replace(
            sub,
            period_start=at,
            period_end=period.end,
            items=tuple(i.billed() for i in sub.items),
            version=sub.version + 1,
        )
        invoice: Invoice | None = None  # numbered at commit, once everything else is written
        invoice_id = new_id("inv")
        if await tx.billing_cycles.claim(item.tenant_id, sub.id, at, invoice_id):
            closed = (sub.period_start, at)  # its usage is billed now, in arrears
            grace = active.rules.metering.draft_grace
            in_grace = bool(grace and metered_prices(active.rules, closing, closed[0]))
            shared: Invoice | None = None
            if not in_grace and active.rules.invoicing.consolidate_same_day:
                shared = await self._shared_draft(tx, item, renewed, active, (at, period.end))
                invoice_id = shared.id
                await tx.billing_cycles.record_invoice(item.tenant_id, sub.id, at, invoice_id)
            pending = await tx.pending_items.take(item.tenant_id, sub.id, invoice_id)
            rounding = active.rules.money.rounding_for(sub.currency)
            fees = period_fee_lines(renewed.items, sub.currency, rounding, (at, period.end))
            if in_grace:
                # Stay a draft for the grace, so late events of the closed period count.
                await create_draft(
                    tx,
                    item.tenant_id,
                    renewed,
                    reason="subscription_cycle",
                    period=(at, period.end),
                    lines=[*pending, *fees],
                    rule_set=active.content_hash,
                    at=at,
                    invoice_id=invoice_id,
                )
                await tx.due_work.schedule(
                    DueItem(
                        item.tenant_id,
                        new_id("due"),
                        "finalize",
                        sub.id,
                        sub.clock_id,
                        at + grace,
                        _finalize_payload(invoice_id, closed, closing.plan_code),
                    )
                )
            else:
                usage = await usage_lines(
                    tx, item.tenant_id, closing, active.rules, self._usage, closed, invoice_id, at
                )
                if shared is not None:
                    # Each subscription's coupon applies to its own lines of the shared invoice.
                    own = [
                        *with_plan([*pending, *fees], renewed.plan_code),
                        *with_plan(usage, closing.plan_code),
                    ]
                    discount = await subscription_discount(
                        tx, item.tenant_id, renewed, own, (at, period.end), active
                    )
                    if discount is not None:
                        own.append(discount)
                        renewed = coupon_used(renewed)
                    grown = (*shared.lines, *own)
                    await tx.invoices.replace(
                        item.tenant_id, replace(shared, lines=grown, settlement=settle(grown, 0))
                    )
                else:
                    invoice = await issue_invoice(
                        tx,
                        item.tenant_id,
                        renewed,
                        reason="subscription_cycle",
                        period=(at, period.end),
                        lines=[*pending, *fees, *usage],
                        rules=active,
                        at=at,
                        invoice_id=invoice_id,
                        number_later=True,
                    )
                    renewed = after_invoice(renewed, invoice)
        await tx.due_work.schedule(
            DueItem(item.tenant_id, new_id("due"), "renew", sub.id, sub.clock_id, period.end)
        )
        await self._save(tx, item, renewed, closing, "subscription.renewed")
        if invoice is not None:
            await number_at_commit(tx, item.tenant_id, invoice, active, at)
        return f"renew {sub.name} to {period.end.isoformat()}"

    async def _shared_draft(
        self,
        tx: Transaction,
        item: DueItem,
        sub: Subscription,
        active: ActiveRules,
        period: tuple[datetime, datetime],
    ) -> Invoice:
        """The customer's shared renewal draft for this instant, made on first use and
        finalized a second later, after the instant's renewals have joined it."""
        at = period[0]
        draft = await tx.invoices.consolidation_draft(
            item.tenant_id, sub.customer_id, sub.currency, at
        )
        if draft is not None:
            return draft
        draft = await create_draft(
            tx,
            item.tenant_id,
            replace(sub, id=""),
            reason="subscription_cycle",
            period=period,
            lines=[],
            rule_set=active.content_hash,
            at=at,
            invoice_id=new_id("inv"),
        )
        draft = replace(draft, subscription_id=None)
        await tx.invoices.replace(item.tenant_id, draft)
        await tx.due_work.schedule(
            DueItem(
                item.tenant_id,
                new_id("due"),
                "finalize_consolidated",
                draft.id,
                sub.clock_id,
                at + CONSOLIDATION_DELAY,
                json.dumps({"invoice_id": draft.id}),
            )
        )
        return draft

    def _enter_phase(
        self, rules: RuleSet, sub: Subscription, index: int, at: datetime
    ) -> Subscription:
        """Apply the phase that starts with billing period `index`, if any."""
        starting = [p for p in sub.phases if p.start_period == index]
        if not starting:
            return sub
        phase = starting[0]
        plan = plan_at(rules, phase.plan_code or sub.plan_code, at)
        quantities = {i.key: i.quantity for i in sub.items if i.price_code}
        quantities.update(parse_quantities(phase.quantities))
        items = items_for_plan(
            rules, plan, sub.currency, at, quantities, parse_overrides(phase.price_overrides)
        )
        remaining = tuple(p for p in sub.phases if p.start_period > index)
        return replace(sub, plan_code=plan.code, items=items, phases=remaining)

    async def _end_trial(self, tx: Transaction, item: DueItem, sub: Subscription) -> str:
        if sub.status != Status.TRIALING or sub.trial_end != item.due_at:
            return f"skip trial end {sub.name}"
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        # With a payment method attached the trial simply ends in billing; without one the
        # rules say what it becomes.
        has_method = await tx.payment_methods.has_attached(item.tenant_id, sub.customer_id)
        outcome = (
            "activate" if has_method else active.rules.invoicing.trial_end_without_payment_method
        )
        if outcome == "cancel":
            ended = replace(
                sub,
                status=moved(sub.status, Status.CANCELED),
                canceled_at=item.due_at,
                cancel_at=item.due_at,
                version=sub.version + 1,
            )
            await self._save(tx, item, ended, sub, "subscription.canceled")
            return f"trial of {sub.name} ended: canceled"
        if outcome == "pause":
            paused = replace(
                sub,
                status=moved(sub.status, Status.PAUSED),
                paused_at=item.due_at,
                version=sub.version + 1,
            )
            await self._save(tx, item, paused, sub, "subscription.paused")
            return f"trial of {sub.name} ended: paused"
        started = await self._subscriptions.start_billing(
            tx,
            item.tenant_id,
            sub,
            active,
            item.due_at,
            True,  # the anchor day or base asked for at creation, and its first-stub charge
            cadence_of(sub),
            "subscription_cycle",
        )
        started = replace(started, version=sub.version + 1)
        await self._save(tx, item, started, sub, "subscription.trial_ended")
        return f"end trial {sub.name}"

    async def _finalize(self, tx: Transaction, item: DueItem, sub: Subscription) -> str:
        """Finalize a renewal draft once its grace is over, with the closed period's usage."""
        payload = json.loads(item.payload)
        draft = await tx.invoices.get(item.tenant_id, payload["invoice_id"])
        if draft is None or draft.status != InvoiceStatus.DRAFT:
            return f"skip finalize {payload['invoice_id']}"
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        period = (
            datetime.fromisoformat(payload["usage_start"]),
            datetime.fromisoformat(payload["usage_end"]),
        )
        # Priced under the plan of the period it closes (older payloads name none: the plan
        # then was the subscription's own).
        closing = replace(sub, plan_code=payload.get("usage_plan", sub.plan_code))
        usage = await usage_lines(
            tx, item.tenant_id, closing, active.rules, self._usage, period, draft.id, item.due_at
        )
        invoice = await finalize_draft(
            tx, item.tenant_id, sub, draft, usage, item.due_at, active, number_later=True
        )
        counted = after_invoice(sub, invoice)
        if counted != sub:
            await self._save(
                tx,
                item,
                replace(counted, version=sub.version + 1),
                sub,
                "subscription.updated",
            )
        await number_at_commit(tx, item.tenant_id, invoice, active, item.due_at)
        return f"finalize {draft.name}"

    async def _finalize_consolidated(self, tx: Transaction, item: DueItem) -> str:
        invoice_id = json.loads(item.payload)["invoice_id"]
        draft = await tx.invoices.get(item.tenant_id, invoice_id)
        if draft is None or draft.status != InvoiceStatus.DRAFT:
            return f"skip finalize invoices/{invoice_id}"
        # Under the customer's lock, as renewals add to the draft: read it whole again.
        draft = await tx.invoices.consolidation_draft(
            item.tenant_id, draft.customer_id, draft.currency, draft.period_start
        )
        if draft is None or draft.id != invoice_id:
            return f"skip finalize invoices/{invoice_id}"
        # Read under the same lock a renewal takes to join: one not done now has not joined
        # yet, and finalizing before it would leave it an invoice of its own. A renewal held
        # back by a parked item is not waited for: it gets its own invoice when retried.
        waiting = await tx.due_work.unfinished_renewals(
            item.tenant_id, draft.customer_id, draft.period_start
        )
        if waiting:
            raise NotReady(f"{waiting} renewals yet to join {draft.name}", CONSOLIDATION_WAIT_S)
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        final = await finalize_invoice(tx, item.tenant_id, draft, draft.created_at, active)
        return f"finalize {final.name} ({len(final.lines)} lines)"

    async def _cancel(self, tx: Transaction, item: DueItem, sub: Subscription) -> str:
        if sub.status == Status.CANCELED or sub.cancel_at != item.due_at:
            return f"skip cancel {sub.name}"
        ended = await self._subscriptions.end_now(tx, item.tenant_id, sub, item.due_at)
        await self._save(tx, item, ended, sub, "subscription.canceled")
        return f"cancel {sub.name}"

    async def _save(
        self, tx: Transaction, item: DueItem, sub: Subscription, before: Subscription, event: str
    ) -> None:
        """Write `sub` over `before` (compare-and-set on its version) and its MRR change."""
        if not await tx.subscriptions.update(item.tenant_id, sub, before.version):
            raise RetryableConflict(f"{sub.name} changed while its due work ran")
        await track_mrr(tx, item.tenant_id, sub, item.due_at, before)
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                item.tenant_id,
                event,
                sub.name,
                {"status": sub.status.value, "period_end": sub.period_end.isoformat()},
                item.due_at,
            )
        )


def _finalize_payload(invoice_id: str, closed: tuple[datetime, datetime], plan_code: str) -> str:
    """What a `finalize` item needs: the draft, and the closed period whose usage it adds,
    with the plan in force during it."""
    return json.dumps(
        {
            "invoice_id": invoice_id,
            "usage_start": closed[0].isoformat(),
            "usage_end": closed[1].isoformat(),
            "usage_plan": plan_code,
        }
    )
