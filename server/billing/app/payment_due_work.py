"""The payments' due work (ADR 0034):

- `collect_invoice` (subject: the invoice), scheduled by finalization: the write pattern with
  source `automatic_collection`, keyed by the item's id, so a rerun of the item (a crash
  before it was marked done) answers with the same attempt instead of a second one;
- `reconcile_attempt` (subject: the attempt), scheduled with every attempt: `prepare` asks
  the gateway for the attempt's status outside any transaction, `handle` records it. A key
  the gateway still does not know `not_found_after` the attempt was made was never charged:
  failed `never_charged`. Still unsettled: the next lookup at the next `lookups_after` delay;
  after the last one the item is parked for a person.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from billing.app.context import CallContext, Write
from billing.app.gateway_calls import call_gateway
from billing.app.gateway_directory import GatewayDirectory
from billing.app.ids import new_id
from billing.app.payment_charges import SYSTEM_ACTOR, ChargeOrder, Charges, charge_request
from billing.app.payment_kinds import COLLECT_INVOICE, RECONCILE_ATTEMPT
from billing.app.payment_outcomes import (
    outcome_from_dict,
    outcome_to_dict,
    record_outcome,
    target_status,
)
from billing.app.ports import DueItem, RetryableConflict, Store, Transaction
from billing.app.reconcile_ends import Reconciled, ended, record_last_lookup
from billing.app.rules import RuleUseCases
from billing.domain.errors import InvalidState, NotFound
from billing.domain.payments import PaymentAttempt
from billing.plugins.engines import ChargeRequest, GatewayOutcome, GatewayStatus, LookupRequest

NEVER_CHARGED = "never_charged"


class PaymentDueWork:
    def __init__(
        self,
        store: Store,
        charges: Charges,
        directory: GatewayDirectory,
        rules: RuleUseCases,
    ) -> None:
        self._store = store
        self._charges = charges
        self._directory = directory
        self._rules = rules

    async def prepare(self, item: DueItem) -> DueItem:
        if item.kind == COLLECT_INVOICE:
            return await self._collect(item)
        if item.kind == RECONCILE_ATTEMPT:
            return await self._look_up(item)
        return item

    async def handle(self, tx: Transaction, item: DueItem) -> str:
        payload = json.loads(item.payload or "{}")
        if item.kind == COLLECT_INVOICE:
            return str(payload.get("done", f"collect invoices/{item.subscription_id}"))
        if "done" in payload:  # the last lookup, recorded by `prepare` already
            return str(payload["done"])
        return ended(await self._reconcile(tx, item, payload))

    # --- collect_invoice ----------------------------------------------------------------

    async def _collect(self, item: DueItem) -> DueItem:
        """The whole write pattern runs here, before the item's own transaction: the
        gateway is never called inside one. The item's transaction only marks it done."""
        ctx = CallContext(item.tenant_id, SYSTEM_ACTOR, "CollectInvoice", item.id)
        order = ChargeOrder(item.subscription_id, None, None, "", "automatic_collection")
        try:
            attempt = await self._charges.charge(ctx, Write(item.id, item.id.encode(), order))
        except (InvalidState, NotFound) as exc:
            done = f"skip collect invoices/{item.subscription_id}: {exc}"
        else:
            what = "no payment method" if attempt is None else attempt.name
            status = "" if attempt is None else f" {attempt.status.value}"
            done = f"collect invoices/{item.subscription_id}: {what}{status}"
        return replace(item, payload=json.dumps({"invoice_id": item.subscription_id, "done": done}))

    # --- reconcile_attempt --------------------------------------------------------------

    async def _look_up(self, item: DueItem) -> DueItem:
        async with self._store.read() as tx:
            attempt = await tx.payment_attempts.get(item.tenant_id, item.subscription_id)
            active = await self._rules.active_rules_in(tx, item.tenant_id) if attempt else None
            if attempt is None or active is None or attempt.settled:
                return item
            original = await _original_request(tx, item.tenant_id, attempt)
        request = LookupRequest(
            attempt.idempotency_key,
            attempt.gateway_reference,
            "charge",
            attempt.amount_minor,
            attempt.currency,
            original=original,
        )
        # Whatever goes wrong, the gateway could not say: asked again at the next lookup.
        outcome = await call_gateway(
            self._directory,
            item.tenant_id,
            active.rules.payments,
            attempt.gateway,
            lambda gateway: gateway.lookup(request),
            what="lookup",
            about={"attempt": attempt.id},
            secrets=(original.token,) if original is not None else (),
        )
        payload = {"attempt_id": attempt.id, "outcome": outcome_to_dict(outcome)}
        looked = replace(item, payload=json.dumps(payload))
        if not active.rules.payments.reconcile.spent(attempt.lookups + 1):
            return looked
        return await record_last_lookup(self._store, looked, payload, self._reconcile)

    async def _reconcile(
        self, tx: Transaction, item: DueItem, payload: dict[str, Any]
    ) -> Reconciled:
        attempt = await tx.payment_attempts.get(item.tenant_id, item.subscription_id, lock=True)
        if attempt is None:
            return Reconciled(f"skip reconcile paymentAttempts/{item.subscription_id}: gone")
        if attempt.settled or "outcome" not in payload:
            return Reconciled(f"reconcile {attempt.name}: already {attempt.status.value}")
        active = await self._rules.active_rules_in(tx, item.tenant_id)
        reconcile = active.rules.payments.reconcile
        at = item.due_at
        outcome = outcome_from_dict(payload["outcome"])
        if outcome.status is GatewayStatus.NOT_FOUND and reconcile.never_reached(
            attempt.created_at, at
        ):
            outcome = GatewayOutcome(
                GatewayStatus.FAILED,
                decline_code=NEVER_CHARGED,
                message=f"the gateway never received this charge (not found after"
                f" {reconcile.not_found_after})",
            )
        lookups = attempt.lookups + 1
        counted = replace(attempt, lookups=lookups, version=attempt.version + 1)
        if not await tx.payment_attempts.update(
            item.tenant_id, counted, attempt.status, attempt.version
        ):
            raise RetryableConflict(f"{attempt.name} changed during its status lookup")
        after = counted
        if target_status(attempt.status, outcome.status) is not None:
            after = await record_outcome(
                tx,
                item.tenant_id,
                counted,
                outcome,
                at,
                active.rules.payments,
                actor=SYSTEM_ACTOR,
                request_id=item.id,
            )
        if after.settled:
            return Reconciled(
                f"reconcile {after.name}: {after.status.value} after {lookups} lookups"
            )
        next_at = reconcile.next_lookup_at(attempt.created_at, lookups, at)
        if next_at is None:
            return Reconciled(
                f"{attempt.name} is still {after.status.value} after {lookups} status lookups"
                f" ({outcome.status.value}); a person must settle it with the gateway",
                park=True,
            )
        await tx.due_work.schedule(
            DueItem(
                item.tenant_id,
                new_id("due"),
                RECONCILE_ATTEMPT,
                attempt.id,
                item.clock_id,
                next_at,
                json.dumps({"attempt_id": attempt.id}),
            )
        )
        return Reconciled(
            f"reconcile {after.name}: still {after.status.value} ({outcome.status.value})"
        )


async def _original_request(
    tx: Transaction, tenant_id: str, attempt: PaymentAttempt
) -> ChargeRequest | None:
    """The attempt's purchase request as it was sent (same key, amount, token, metadata), for
    gateways that settle an unknown outcome by replaying it under the same idempotency key;
    None when its method is gone (such a gateway then waits for the webhook)."""
    method = await tx.payment_methods.get(tenant_id, attempt.payment_method_id)
    if method is None:
        return None
    invoice = await tx.invoices.get(tenant_id, attempt.invoice_id) if attempt.invoice_id else None
    number = invoice.number or "" if invoice is not None else ""
    return charge_request(tenant_id, attempt, method.token, number)
