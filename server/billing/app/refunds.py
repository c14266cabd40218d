"""Refunds (ADR 0041), by ADR 0034's write pattern:

1. intent: one keyed write transaction locks the payment, checks the amount against what may
   still be refunded (and, tied to a credit note, against the note's credit not yet paid out
   and the customer's balance, which it reserves), inserts the refund `pending` with its
   `reconcile_refund` item, event and audit record;
2. call: outside any transaction, `refund` under the gateway timeout; an outage
   (`GatewayUnavailable`) refunded nothing: failed; a timeout or any other failure: unknown;
3. outcome: `record_refund_outcome` in a short transaction of its own.

A refund of a manual payment (no attempt: the money came by bank transfer or check) is
returned outside too: it is recorded succeeded at once, its reason saying how it went back.

The write's idempotent result is the refund id: a replay answers with the refund as it is
now and never calls the gateway again. `reconcile_refund` (subject: the refund) looks a
pending or unknown refund up by its idempotency key, like `reconcile_attempt` does charges.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from billing.app.billing_time import BillingTime
from billing.app.books import post_facts
from billing.app.context import CallContext, Write
from billing.app.gateway_calls import NOTHING_DONE, call_gateway
from billing.app.gateway_directory import GatewayDirectory
from billing.app.ids import new_id
from billing.app.payment_outcomes import outcome_from_dict, outcome_to_dict
from billing.app.ports import DueItem, Store, Transaction
from billing.app.reconcile_ends import Reconciled, ended, record_last_lookup
from billing.app.refund_outcomes import (
    add_refund_records,
    record_refund_outcome,
    refund_postings,
)
from billing.app.rules import RuleUseCases
from billing.app.writes import WriteRunner, retry_on_conflict
from billing.domain.errors import InvalidArgument, InvalidState, NotFound
from billing.domain.invoices import CreditNote
from billing.domain.money import Money
from billing.domain.names import parse_name
from billing.domain.payment_rules import PaymentRules
from billing.domain.payments import Payment, PaymentAttempt, Refund, RefundStatus
from billing.domain.postings import MANUAL_CLEARING
from billing.domain.refunds import (
    UNSETTLED_REFUNDS,
    note_credit,
    refund_key,
    refund_status_for,
    refundable_minor,
)
from billing.domain.text import check_text
from billing.plugins.engines import (
    GatewayOutcome,
    GatewayStatus,
    LookupRequest,
    RefundRequest,
)

RECONCILE_REFUND = "reconcile_refund"  # subject: the refund
REASON_MAX = 256  # refunds.reason
OUTCOME_TRIES = 5
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class RefundOrder:
    payment: str  # payments/pmt_...
    amount: Money | None  # None: all that may still be refunded
    reason: str
    credit_note: str  # creditNotes/cn_... or empty


@dataclass(frozen=True)
class _Intent:
    """What the intent decided. Only the refund id is stored as the write's result; the rest
    lives in memory for the call that follows (a replay has none of it)."""

    refund_id: str
    fresh: bool
    refund: Refund | None = None
    gateway: str = ""
    charge_reference: str = ""
    rules: PaymentRules | None = None
    clock_id: str | None = None


class _IntentCodec:
    def encode(self, result: _Intent) -> bytes:
        return json.dumps({"refund_id": result.refund_id}).encode()

    def decode(self, data: bytes) -> _Intent:
        return _Intent(json.loads(data)["refund_id"], fresh=False)


INTENT_CODEC = _IntentCodec()


class Refunds:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        time: BillingTime,
        directory: GatewayDirectory,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time
        self._directory = directory

    async def get(self, ctx: CallContext, name: str) -> Refund:
        refund_id = parse_name(name, "refunds")
        async with self._store.read() as tx:
            refund = await tx.refunds.get(ctx.tenant_id, refund_id)
        if refund is None:
            raise NotFound(name)
        return refund

    async def create(self, ctx: CallContext, write: Write[RefundOrder]) -> Refund:
        """The refund as it stands once this call is done with it. Raises NotFound,
        InvalidArgument (the amount, the note), InvalidState (nothing left to pay out)."""
        order = write.input
        payment_id = parse_name(order.payment, "payments", "payment")
        note_id = (
            parse_name(order.credit_note, "creditNotes", "credit_note")
            if order.credit_note
            else None
        )
        check_text("reason", order.reason, REASON_MAX)
        if order.amount is not None and order.amount.amount_minor <= 0:
            raise InvalidArgument.single("amount", "must be positive")

        async def work(tx: Transaction, now: datetime) -> _Intent:
            return await self._intent(tx, ctx, write, payment_id, note_id)

        intent = await self._writes.run(ctx, write, INTENT_CODEC, work)
        if not intent.fresh or intent.refund is None:
            async with self._store.read() as tx:
                stored = await tx.refunds.get(ctx.tenant_id, intent.refund_id)
            if stored is None:
                raise NotFound(f"refunds/{intent.refund_id}")
            return stored
        if intent.refund.status is not RefundStatus.PENDING:
            return intent.refund  # a manual payment's: returned outside, recorded at once
        outcome = await self._call(ctx.tenant_id, intent)
        return await self._settle(
            ctx.tenant_id, intent.refund, outcome, intent.clock_id, ctx.actor, write.request_id
        )

    # --- 1. intent ----------------------------------------------------------------------

    async def _intent(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[RefundOrder],
        payment_id: str,
        note_id: str | None,
    ) -> _Intent:
        tenant_id = ctx.tenant_id
        order = write.input
        # Locked: refunds of one payment take turns, each seeing what the one before holds.
        payment = await tx.payments.get(tenant_id, payment_id, lock=True)
        if payment is None:
            raise NotFound(order.payment)
        if order.amount is not None and order.amount.currency_code != payment.currency:
            raise InvalidArgument.single("amount", f"must be in {payment.currency}")
        left = refundable_minor(payment, await tx.refunds.for_payment(tenant_id, payment.id))
        if left == 0:
            raise InvalidState(
                f"{payment.name} has nothing left to refund (received"
                f" {Money(payment.currency, payment.amount_minor)}, refunded, held by refunds in"
                f" flight or disputed: all of it)",
                "NOTHING_TO_REFUND",
            )
        note: CreditNote | None = None
        if note_id is not None:
            note = await self._note(tx, tenant_id, note_id, payment, order)
            note_left = note_credit(
                note.to_credit_minor, await tx.refunds.for_credit_note(tenant_id, note.id)
            ).left_minor
            if note_left == 0:
                raise InvalidState(
                    f"{note.name} has no credit left to pay out", "NOTHING_TO_REFUND"
                )
            left = min(left, note_left)
        amount = order.amount.amount_minor if order.amount is not None else left
        if amount > left:
            what = f"{note.name}'s credit" if note is not None else payment.name
            raise InvalidArgument.single(
                "amount", f"at most {Money(payment.currency, left)} of {what} is left to refund"
            )
        customer = await tx.customers.get(tenant_id, payment.customer_id)
        clock_id = customer.clock_id if customer is not None else None
        at = await self._time.now(tx, tenant_id, clock_id)
        if note is not None:
            await self._reserve_credit(tx, tenant_id, payment, note, amount)
        active = await self._rules.active_rules_in(tx, tenant_id)
        refund_id = new_id("re")
        refund = Refund(
            id=refund_id,
            payment_id=payment.id,
            attempt_id=payment.attempt_id,
            customer_id=payment.customer_id,
            amount_minor=amount,
            currency=payment.currency,
            status=RefundStatus.PENDING,
            idempotency_key=refund_key(tenant_id, refund_id),
            reason=order.reason,
            created_at=at,
            updated_at=at,
            credit_note_id=note.id if note is not None else None,
        )
        if payment.attempt_id is None:
            return await self._manual(tx, ctx, write, payment, refund, at)
        attempt = await tx.payment_attempts.get(tenant_id, payment.attempt_id)
        if attempt is None:  # a payment's attempt is never deleted
            raise NotFound(f"paymentAttempts/{payment.attempt_id}")
        await tx.refunds.insert(tenant_id, refund)
        rules = active.rules.payments
        await tx.due_work.schedule(
            DueItem(
                tenant_id,
                new_id("due"),
                RECONCILE_REFUND,
                refund.id,
                clock_id,
                rules.reconcile.first_lookup_at(at),
                json.dumps({"refund_id": refund.id, "lookups": 0}),
            )
        )
        await add_refund_records(
            tx, tenant_id, refund, at, _intent_details(attempt, refund), ctx.actor,
            ctx.method, write.request_id, write.body_hash,
        )  # fmt: skip
        return _Intent(
            refund.id,
            fresh=True,
            refund=refund,
            gateway=attempt.gateway,
            charge_reference=attempt.gateway_reference,
            rules=rules,
            clock_id=clock_id,
        )

    async def _note(
        self,
        tx: Transaction,
        tenant_id: str,
        note_id: str,
        payment: Payment,
        order: RefundOrder,
    ) -> CreditNote:
        note = await tx.credit_notes.get(tenant_id, note_id)
        if note is None or note.customer_id != payment.customer_id:
            raise NotFound(order.credit_note)
        if note.to_credit_minor == 0:
            raise InvalidState(
                f"{note.name} lowered what {_invoice(note)} owed and put nothing on the credit"
                " balance: there is nothing of it to pay out",
                "NOTHING_TO_REFUND",
            )
        if note.invoice_id not in {a.invoice_id for a in payment.allocations}:
            raise InvalidArgument.single(
                "credit_note",
                f"credits {_invoice(note)}, which {payment.name} did not pay: refund it on"
                " the payment that did",
            )
        return note

    async def _reserve_credit(
        self, tx: Transaction, tenant_id: str, payment: Payment, note: CreditNote, amount: int
    ) -> None:
        """The note's credit leaves the balance now, before the gateway is asked: it can
        neither be spent on an invoice nor refunded twice meanwhile. A failed refund gives
        it back (`return_reserved_credit`)."""
        balance = await tx.credit.balance(tenant_id, payment.customer_id, payment.currency)
        if balance < amount:
            raise InvalidState(
                f"customers/{payment.customer_id} has {Money(payment.currency, balance)} of"
                f" credit left; {note.name}'s credit was spent since, so"
                f" {Money(payment.currency, amount)} cannot be paid out",
                "CREDIT_SPENT",
            )
        await tx.credit.set_balance(
            tenant_id, payment.customer_id, payment.currency, balance - amount
        )

    async def _manual(
        self,
        tx: Transaction,
        ctx: CallContext,
        write: Write[RefundOrder],
        payment: Payment,
        refund: Refund,
        at: datetime,
    ) -> _Intent:
        """Money received outside a gateway is returned outside too: recorded as done."""
        if not refund.reason.strip():
            raise InvalidArgument.single(
                "reason",
                f"is required to refund {payment.name}, a manual payment: say how the money"
                " went back (e.g. the bank transfer's reference)",
            )
        done = replace(refund, status=RefundStatus.SUCCEEDED)
        await tx.refunds.insert(ctx.tenant_id, done)
        refunded = payment.refunded_minor + done.amount_minor
        await tx.payments.update_amounts(
            ctx.tenant_id, payment.id, refunded, payment.disputed_minor
        )
        details: dict[str, object] = {"manual": True, "payment_refunded_minor": refunded}
        await post_facts(tx, ctx.tenant_id, refund_postings(done, MANUAL_CLEARING), at)
        await add_refund_records(
            tx, ctx.tenant_id, done, at, details, ctx.actor, ctx.method, write.request_id,
            write.body_hash,
        )  # fmt: skip
        return _Intent(done.id, fresh=True, refund=done)

    # --- 2. call ------------------------------------------------------------------------

    async def _call(self, tenant_id: str, intent: _Intent) -> GatewayOutcome:
        refund, rules = intent.refund, intent.rules
        assert refund is not None and rules is not None
        request = RefundRequest(
            refund.idempotency_key,
            intent.charge_reference,
            refund.amount_minor,
            refund.currency,
            refund.reason,
        )
        try:
            return await call_gateway(
                self._directory,
                tenant_id,
                rules,
                intent.gateway,
                lambda gateway: gateway.refund(request),
                what="refund",
                about={"refund": refund.id},
                certain=NOTHING_DONE,
            )
        except NOTHING_DONE as exc:
            # Certainly not sent: nothing was refunded; a new request may try again.
            return GatewayOutcome(
                GatewayStatus.FAILED,
                message=f"{intent.gateway} was unavailable; nothing was refunded ({exc})",
            )

    # --- 3. outcome ---------------------------------------------------------------------

    async def _settle(
        self,
        tenant_id: str,
        refund: Refund,
        outcome: GatewayOutcome,
        clock_id: str | None,
        actor: str,
        request_id: str,
    ) -> Refund:
        to = refund_status_for(outcome.status.value)

        async def work(tx: Transaction) -> Refund:
            if to is None or to is RefundStatus.PENDING:
                stored = await tx.refunds.get(tenant_id, refund.id)
                return stored if stored is not None else refund
            at = await self._time.now(tx, tenant_id, clock_id)
            return await record_refund_outcome(
                tx, tenant_id, refund.id, to, at,
                reference=outcome.reference, message=outcome.message,
                actor=actor, request_id=request_id,
            )  # fmt: skip

        return await retry_on_conflict(self._store, work, tries=OUTCOME_TRIES)

    # --- 4. reconcile_refund ------------------------------------------------------------

    async def prepare(self, item: DueItem) -> DueItem:
        """Outside any transaction: ask the gateway for the refund's status."""
        payload = json.loads(item.payload or "{}")
        async with self._store.read() as tx:
            refund = await tx.refunds.get(item.tenant_id, item.subscription_id)
            attempt = (
                await tx.payment_attempts.get(item.tenant_id, refund.attempt_id)
                if refund is not None and refund.attempt_id is not None
                else None
            )
            active = await self._rules.active_rules_in(tx, item.tenant_id) if attempt else None
        if refund is None or attempt is None or active is None:
            return item
        if refund.status not in UNSETTLED_REFUNDS:
            return item
        outcome = await self._look_up(item.tenant_id, refund, attempt, active.rules.payments)
        payload = {**payload, "outcome": outcome_to_dict(outcome)}
        looked = replace(item, payload=json.dumps(payload))
        if not active.rules.payments.reconcile.spent(int(payload.get("lookups", 0)) + 1):
            return looked
        return await record_last_lookup(self._store, looked, payload, self._reconcile)

    async def _look_up(
        self, tenant_id: str, refund: Refund, attempt: PaymentAttempt, rules: PaymentRules
    ) -> GatewayOutcome:
        request = LookupRequest(
            refund.idempotency_key,
            refund.gateway_reference,
            "refund",
            refund.amount_minor,
            refund.currency,
        )
        # Whatever goes wrong, the gateway could not say: asked again at the next lookup.
        return await call_gateway(
            self._directory,
            tenant_id,
            rules,
            attempt.gateway,
            lambda gateway: gateway.lookup(request),
            what="lookup",
            about={"refund": refund.id},
        )

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        payload = json.loads(item.payload or "{}")
        if "done" in payload:  # the last lookup, recorded by `prepare` already
            return str(payload["done"])
        return ended(await self._reconcile(tx, item, payload))

    async def _reconcile(
        self, tx: Transaction, item: DueItem, payload: dict[str, Any]
    ) -> Reconciled:
        refund = await tx.refunds.get(item.tenant_id, item.subscription_id)
        if refund is None:
            return Reconciled(f"skip reconcile refunds/{item.subscription_id}: gone")
        if refund.status not in UNSETTLED_REFUNDS or "outcome" not in payload:
            return Reconciled(f"reconcile {refund.name}: already {refund.status.value}")
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        reconcile = active.rules.payments.reconcile
        at = item.due_at
        outcome = outcome_from_dict(payload["outcome"])
        lookups = int(payload.get("lookups", 0)) + 1
        to = refund_status_for(outcome.status.value)
        message = outcome.message
        if outcome.status is GatewayStatus.NOT_FOUND and reconcile.never_reached(
            refund.created_at, at
        ):
            to = RefundStatus.FAILED
            message = (
                f"the gateway never received this refund (not found after"
                f" {reconcile.not_found_after}); nothing was refunded"
            )
        after = refund
        if to is not None and to is not RefundStatus.PENDING:
            after = await record_refund_outcome(
                tx, item.tenant_id, refund.id, to, at,
                reference=outcome.reference, message=message,
                actor=SYSTEM_ACTOR, request_id=item.id,
            )  # fmt: skip
        if after.status not in UNSETTLED_REFUNDS:
            return Reconciled(
                f"reconcile {after.name}: {after.status.value} after {lookups} lookups"
            )
        next_at = reconcile.next_lookup_at(refund.created_at, lookups, at)
        if next_at is None:
            return Reconciled(
                f"{after.name} is still {after.status.value} after {lookups} status lookups"
                f" ({outcome.status.value}); a person must settle it with the gateway",
                park=True,
            )
        await tx.due_work.schedule(
            DueItem(
                item.tenant_id,
                new_id("due"),
                RECONCILE_REFUND,
                refund.id,
                item.clock_id,
                next_at,
                json.dumps({"refund_id": refund.id, "lookups": lookups}),
            )
        )
        return Reconciled(
            f"reconcile {after.name}: still {after.status.value} ({outcome.status.value})"
        )


def _intent_details(attempt: PaymentAttempt, refund: Refund) -> dict[str, object]:
    return {
        "payment_attempt": attempt.name,
        "gateway": attempt.gateway,
        "credit_reserved_minor": refund.amount_minor if refund.credit_note_id else 0,
    }


def _invoice(note: CreditNote) -> str:
    return f"invoices/{note.invoice_id}"
