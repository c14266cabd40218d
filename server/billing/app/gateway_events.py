"""Gateway webhooks in (ADR 0034, 0041): `HandleGatewayEvent` verifies the call through the
gateway's plugin, then in ONE transaction records the event id (the duplicate check) and
applies what it says:

- `charge.*` settles an unsettled attempt (found by the gateway's reference, else by our
  idempotency key) as a status lookup would, through `record_outcome`; a settled attempt is
  never moved ("already succeeded");
- `refund.*` settles a pending or unknown refund the same way;
- `dispute.*` opens or closes a dispute of the charge (`apply_dispute`);
- anything else, or a charge we do not know, is recorded as ignored, with the reason.

A second delivery of the same event id finds it recorded and changes nothing; on PostgreSQL
a concurrent one waits for the first to commit and then finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from billing.app.billing_time import BillingTime
from billing.app.context import CallContext
from billing.app.disputes import apply_dispute
from billing.app.gateway_directory import GatewayDirectory, UnknownGateway
from billing.app.payment_outcomes import record_outcome, target_status
from billing.app.ports import RetryableConflict, Store, Transaction
from billing.app.refund_outcomes import record_refund_outcome
from billing.app.rules import RuleUseCases
from billing.app.writes import retry_on_conflict
from billing.domain.disputes import DISPUTE_KINDS, DisputeFacts
from billing.domain.errors import InvalidArgument, TransactionConflict
from billing.domain.payment_rules import PaymentRules
from billing.domain.payments import GatewayEventRecord, PaymentAttempt
from billing.domain.refunds import refund_status_for, settled_refund
from billing.plugins.engines import GatewayEvent, GatewayOutcome, GatewayStatus, WebhookRejected

TRIES = 5
_log = logging.getLogger(__name__)
# What a plugin's parsing may raise on a body it did not expect instead of WebhookRejected
# (a JSON nested past the parser's recursion, a number past datetime's or int's range).
_UNREADABLE = (ValueError, TypeError, KeyError, OverflowError, RecursionError)

# The attempt outcome each charge event announces, when the event carries none of its own.
_CHARGE_STATUS = {
    "charge.succeeded": GatewayStatus.SUCCEEDED,
    "charge.failed": GatewayStatus.FAILED,
    "charge.requires_action": GatewayStatus.REQUIRES_ACTION,
}
_REFUND_STATUS = {
    "refund.succeeded": GatewayStatus.SUCCEEDED,
    "refund.failed": GatewayStatus.FAILED,
}


@dataclass(frozen=True)
class EventResult:
    event_id: str
    duplicate: bool
    outcome: str


class GatewayEvents:
    def __init__(
        self,
        store: Store,
        rules: RuleUseCases,
        time: BillingTime,
        directory: GatewayDirectory,
    ) -> None:
        self._store = store
        self._rules = rules
        self._time = time
        self._directory = directory

    async def handle(
        self, ctx: CallContext, gateway_name: str, headers: Mapping[str, str], payload: bytes
    ) -> EventResult:
        if not gateway_name:
            raise InvalidArgument.single("gateway", "is required")
        if not payload:
            raise InvalidArgument.single("payload", "is required")
        active = await self._rules.active_rules(ctx)
        rules = active.rules.payments
        try:
            gateway = await self._directory.gateway(None, ctx.tenant_id, rules, gateway_name)
        except UnknownGateway as exc:
            raise InvalidArgument.single("gateway", str(exc)) from None
        try:
            event = gateway.parse_webhook({k.lower(): v for k, v in headers.items()}, payload)
        except WebhookRejected as exc:
            # The caller (the HTTP edge) is authenticated; it is the webhook that does not
            # verify: the request's content is wrong, and resending it cannot help.
            raise InvalidArgument.single("payload", f"rejected by {gateway_name}: {exc}") from None
        except _UNREADABLE as exc:
            # Still the body's fault (anyone may post one); logged: the plugin should say why.
            _log.warning("%s could not read a webhook body: %s", gateway_name, type(exc).__name__)
            raise InvalidArgument.single(
                "payload", f"rejected by {gateway_name}: the body could not be read"
            ) from None

        async def work(tx: Transaction) -> EventResult:
            return await self._apply(tx, ctx, gateway_name, rules, event)

        try:
            return await retry_on_conflict(self._store, work, tries=TRIES)
        except RetryableConflict as conflict:
            raise TransactionConflict(
                f"webhook {event.event_id} collided with concurrent writes {TRIES}"
                " times and changed nothing; the gateway's retry will apply it"
            ) from conflict

    async def _apply(
        self,
        tx: Transaction,
        ctx: CallContext,
        gateway: str,
        rules: PaymentRules,
        event: GatewayEvent,
    ) -> EventResult:
        tenant_id = ctx.tenant_id
        received = self._time.real.now()
        record = GatewayEventRecord(gateway, event.event_id, event.kind, received, "")
        if not await tx.gateway_events.add(tenant_id, record):
            stored = await tx.gateway_events.get(tenant_id, gateway, event.event_id)
            before = stored.outcome if stored is not None else ""
            return EventResult(event.event_id, True, f"applied before: {before}".strip())
        request_id = f"{gateway}:{event.event_id}"
        if event.kind in _CHARGE_STATUS:
            outcome = await self._charge(tx, ctx, gateway, rules, event, request_id)
        elif event.kind in _REFUND_STATUS:
            outcome = await self._refund(tx, ctx, event, request_id)
        elif event.kind in DISPUTE_KINDS:
            outcome = await self._dispute(tx, ctx, gateway, event, request_id)
        else:  # plugins report the types they do not translate as kind `ignored`
            outcome = "ignored: an event type this server does not act on"
        await tx.gateway_events.set_outcome(tenant_id, gateway, event.event_id, outcome)
        return EventResult(event.event_id, False, outcome)

    async def _attempt(
        self, tx: Transaction, tenant_id: str, gateway: str, event: GatewayEvent
    ) -> PaymentAttempt | None:
        attempt = None
        if event.reference:
            attempt = await tx.payment_attempts.by_reference(tenant_id, gateway, event.reference)
        if attempt is None and event.idempotency_key:
            attempt = await tx.payment_attempts.by_key(tenant_id, event.idempotency_key)
        return attempt

    async def _now(self, tx: Transaction, tenant_id: str, customer_id: str) -> datetime:
        customer = await tx.customers.get(tenant_id, customer_id)
        return await self._time.now(tx, tenant_id, customer.clock_id if customer else None)

    async def _charge(
        self,
        tx: Transaction,
        ctx: CallContext,
        gateway: str,
        rules: PaymentRules,
        event: GatewayEvent,
        request_id: str,
    ) -> str:
        attempt = await self._attempt(tx, ctx.tenant_id, gateway, event)
        if attempt is None:
            return f"ignored: unknown charge {_charge_named(event)}"
        outcome = event.outcome or GatewayOutcome(
            _CHARGE_STATUS[event.kind], event.reference, amount_minor=event.amount_minor or None
        )
        if target_status(attempt.status, outcome.status) is None:
            return f"{attempt.name} already {attempt.status.value}"
        at = await self._now(tx, ctx.tenant_id, attempt.customer_id)
        after = await record_outcome(
            tx, ctx.tenant_id, attempt, outcome, at, rules, actor=ctx.actor, request_id=request_id
        )
        return f"{after.name} {after.status.value}"

    async def _refund(
        self, tx: Transaction, ctx: CallContext, event: GatewayEvent, request_id: str
    ) -> str:
        refund = await tx.refunds.by_reference(ctx.tenant_id, event.reference)
        if refund is None:
            refund = await tx.refunds.by_key(ctx.tenant_id, event.idempotency_key)
        if refund is None:
            return f"ignored: unknown refund {event.reference or event.idempotency_key or '?'}"
        status = event.outcome.status if event.outcome is not None else _REFUND_STATUS[event.kind]
        to = refund_status_for(status.value)
        if to is None or settled_refund(refund, to, refund.updated_at) is None:
            return f"{refund.name} already {refund.status.value}"
        at = await self._now(tx, ctx.tenant_id, refund.customer_id)
        message = event.outcome.message if event.outcome is not None else event.reason
        after = await record_refund_outcome(
            tx, ctx.tenant_id, refund.id, to, at,
            reference=event.reference if not refund.gateway_reference else "",
            message=message, actor=ctx.actor, request_id=request_id,
        )  # fmt: skip
        return f"{after.name} {after.status.value}"

    async def _dispute(
        self,
        tx: Transaction,
        ctx: CallContext,
        gateway: str,
        event: GatewayEvent,
        request_id: str,
    ) -> str:
        if not event.dispute_id:
            return f"ignored: {event.kind} names no dispute"
        attempt = await self._attempt(tx, ctx.tenant_id, gateway, event)
        if attempt is None:
            return f"ignored: unknown charge {_charge_named(event)}"
        at = await self._now(tx, ctx.tenant_id, attempt.customer_id)
        facts = DisputeFacts(
            gateway=gateway,
            gateway_dispute_id=event.dispute_id,
            status=DISPUTE_KINDS[event.kind],
            # A gateway that leaves the amount out disputes the whole charge.
            amount_minor=event.amount_minor or attempt.amount_minor,
            fee_minor=event.fee_minor,
            currency=event.currency or attempt.currency,
            reason=event.reason,
            at=at,
        )
        return await apply_dispute(
            tx, ctx.tenant_id, attempt, facts, at, actor=ctx.actor, request_id=request_id
        )


def _charge_named(event: GatewayEvent) -> str:
    return event.reference or event.idempotency_key or "(no reference)"
