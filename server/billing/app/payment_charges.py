"""Charging an invoice (ADR 0034's write pattern), for PayInvoice and automatic collection:

1. intent: one keyed write transaction locks the invoice, refuses what could double a charge,
   picks the method, routes, runs the fraud checks, inserts the attempt (pending, or failed
   unsent when blocked) with its `reconcile_attempt` item, event and audit record;
2. call: outside any transaction, `purchase` under `gateway_timeout_seconds`; an outage
   (`GatewayUnavailable`, an open breaker) moves the pending attempt to the next gateway of
   its route, a timeout or any other failure is `unknown`;
3. outcome: `record_outcome` in a short transaction of its own.

The write's idempotent result is the attempt id: a replay answers with the attempt as it is
now and never calls a gateway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from billing.app.billing_time import BillingTime
from billing.app.circuit_breakers import CircuitBreakers
from billing.app.clock import Clock
from billing.app.context import CallContext, Write
from billing.app.gateway_calls import NOTHING_DONE, call_gateway
from billing.app.gateway_directory import GatewayDirectory
from billing.app.ids import new_id
from billing.app.payment_kinds import RECONCILE_ATTEMPT
from billing.app.payment_outcomes import attempt_event, record_outcome, schedule_dunning
from billing.app.ports import DueItem, Store, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.app.rules import RuleUseCases
from billing.app.writes import WriteRunner, retry_on_conflict
from billing.domain import fraud, payment_routing
from billing.domain.customers import Customer
from billing.domain.errors import InvalidArgument, InvalidState, NotFound
from billing.domain.invoices import InvoiceHead, InvoiceStatus
from billing.domain.money import Money
from billing.domain.payment_rules import PaymentRules
from billing.domain.payments import (
    AttemptStatus,
    FraudOutcome,
    PaymentAttempt,
    PaymentMethod,
    attempt_key,
)
from billing.plugins.engines import (
    ChargeRequest,
    GatewayOutcome,
    GatewayStatus,
)

log = logging.getLogger("billing.payments")

OUTCOME_TRIES = 5  # the outcome's short transaction, retried on a serialization conflict
SYSTEM_ACTOR = "system"


@dataclass(frozen=True)
class ChargeOrder:
    invoice_id: str
    payment_method_id: str | None  # None: the subscription's default, else the customer's
    amount: Money | None  # None: all that remains
    request_country: str = ""
    source: str = "pay_invoice"  # pay_invoice, automatic_collection, dunning_retry


@dataclass(frozen=True)
class Intent:
    """What the intent transaction decided. Only `attempt_id` is stored as the write's
    result; the rest lives in memory for the call that follows (a replay has none of it)."""

    attempt_id: str | None  # None: no attempt was made (no method: automatic collection)
    fresh: bool
    attempt: PaymentAttempt | None = None
    token: str = ""  # the method's gateway token, decrypted: never stored, never logged
    route: tuple[str, ...] = ()
    rules: PaymentRules | None = None
    clock_id: str | None = None
    invoice_number: str = ""
    # the first gateway's credentials, decrypted, read in the intent's transaction (saves the
    # call a read transaction of its own): never stored, never logged
    credentials: Mapping[str, str] | None = None


class _IntentCodec:
    def encode(self, result: Intent) -> bytes:
        return json.dumps({"attempt_id": result.attempt_id}).encode()

    def decode(self, data: bytes) -> Intent:
        return Intent(json.loads(data)["attempt_id"], fresh=False)


INTENT_CODEC = _IntentCodec()


class Charges:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        time: BillingTime,
        directory: GatewayDirectory,
        breakers: CircuitBreakers,
        wall: Clock,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time
        self._directory = directory
        self._breakers = breakers
        self._wall = wall

    async def charge(self, ctx: CallContext, write: Write[ChargeOrder]) -> PaymentAttempt | None:
        """The attempt as it stands once this call is done with it (None: no method and the
        order allowed that). Raises NotFound, InvalidArgument, InvalidState."""
        order = write.input

        async def work(tx: Transaction, now: datetime) -> Intent:
            return await self._intent(tx, ctx, write, order)

        intent = await self._writes.run(ctx, write, INTENT_CODEC, work)
        if intent.attempt_id is None:
            return None
        if not intent.fresh or intent.attempt is None:
            async with self._store.read() as tx:
                return await tx.payment_attempts.get(ctx.tenant_id, intent.attempt_id)
        if intent.attempt.status is not AttemptStatus.PENDING:
            return intent.attempt  # blocked by the fraud checks: never sent
        return await self._call(ctx, write.request_id, intent)

    # --- 1. intent ----------------------------------------------------------------------

    async def _intent(
        self, tx: Transaction, ctx: CallContext, write: Write[ChargeOrder], order: ChargeOrder
    ) -> Intent:
        tenant_id = ctx.tenant_id
        # Its lines are not needed to charge it: the head alone, one statement.
        invoice = await tx.invoices.head(tenant_id, order.invoice_id, lock=True)
        if invoice is None:
            raise NotFound(f"invoices/{order.invoice_id}")
        # A named method is checked first: an unknown name is NOT_FOUND whatever the state.
        named = (
            await self._method(tx, tenant_id, order, invoice)
            if order.payment_method_id is not None
            else None
        )
        if invoice.status is not InvoiceStatus.OPEN:
            raise InvalidState(
                f"{invoice.name} is {invoice.status.value}; only an open invoice can be charged",
                "INVOICE_STATE",
            )
        remaining = invoice.remaining_minor
        if remaining <= 0:
            raise InvalidState(f"nothing remains to be paid on {invoice.name}", "NOTHING_REMAINING")
        amount = _amount(order.amount, invoice, remaining)
        unsettled = await tx.payment_attempts.unsettled_for_invoice(tenant_id, invoice.id)
        if unsettled:
            first = unsettled[0]
            raise InvalidState(
                f"{first.name} of {invoice.name} is still {first.status.value}: a new charge"
                " could double it; wait until it is settled",
                "ATTEMPT_UNSETTLED",
            )
        customer = await tx.customers.get(tenant_id, invoice.customer_id)
        if customer is None:  # invoices never outlive their customer
            raise NotFound(f"customers/{invoice.customer_id}")
        active = await self._rules.active_rules_in(tx, tenant_id)
        rules = active.rules.payments
        at = await self._time.now(tx, tenant_id, customer.clock_id)
        method = named or await self._method(tx, tenant_id, order, invoice)
        if method is None:
            if order.source == "pay_invoice":
                raise InvalidState(
                    f"customers/{invoice.customer_id} has no default payment method; name one",
                    "NO_PAYMENT_METHOD",
                )
            await tx.outbox.add(
                OutboxEvent(
                    new_id("evt"),
                    tenant_id,
                    "invoice.payment_method_missing",
                    invoice.name,
                    {
                        "customer": f"customers/{invoice.customer_id}",
                        "amount_due_minor": remaining,
                        "currency": invoice.currency,
                        "source": order.source,
                    },
                    at,
                )
            )
            return Intent(None, fresh=True)
        facts = payment_routing.RouteFacts(
            currency=invoice.currency,
            amount_minor=amount,
            method_gateway=method.gateway,
            method_type=method.type.value,
            country=method.country or method.billing_country,
            segment=customer.fields.metadata.get("segment", ""),
        )
        try:
            route = payment_routing.route(rules, facts)
        except payment_routing.NoRoute as exc:
            raise InvalidState(str(exc), "NO_ROUTE") from None
        verdict = await self._assess(
            tx, tenant_id, rules, method, customer, Money(invoice.currency, amount), order, at
        )
        attempt_id = new_id("pay")
        blocked = verdict.outcome == FraudOutcome.BLOCK.value
        attempt = PaymentAttempt(
            id=attempt_id,
            customer_id=invoice.customer_id,
            invoice_id=invoice.id,
            payment_method_id=method.id,
            gateway=route.gateways[0],
            amount_minor=amount,
            currency=invoice.currency,
            status=AttemptStatus.FAILED if blocked else AttemptStatus.PENDING,
            idempotency_key=attempt_key(tenant_id, attempt_id),
            created_at=at,
            updated_at=at,
            decline_code="fraud_blocked" if blocked else "",
            failure_message="; ".join(verdict.reasons) if blocked else "",
            fraud_outcome=FraudOutcome(verdict.outcome),
            fraud_reasons=tuple(verdict.reasons),
            source=order.source,
            request_id=write.request_id,
        )
        await tx.payment_attempts.insert(tenant_id, attempt)
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                tenant_id,
                f"payment_attempt.{attempt.status.value}",
                attempt.name,
                attempt_event(attempt),
                at,
            )
        )
        await tx.audit.add(
            AuditRecord(
                new_id("aud"),
                tenant_id,
                ctx.actor,
                ctx.method,
                write.request_id,
                write.body_hash,
                attempt.name,
                "create",
                {
                    "invoice": invoice.name,
                    "amount_minor": amount,
                    "gateway": attempt.gateway,
                    "route": list(route.gateways),
                    "routing_case": route.case,
                    "fraud_outcome": verdict.outcome,
                    "fraud_reasons": list(verdict.reasons),
                    "status": attempt.status.value,
                },
                at,
            )
        )
        credentials = None
        if blocked:  # failed without an outcome to record: dunning takes it up from here
            await schedule_dunning(tx, tenant_id, attempt, at, customer.clock_id, clock_known=True)
        else:
            credentials = await self._directory.credentials(tx, tenant_id, route.gateways[0])
            # Whatever happens to this process from here, a lookup settles the attempt.
            await tx.due_work.schedule(
                DueItem(
                    tenant_id,
                    new_id("due"),
                    RECONCILE_ATTEMPT,
                    attempt.id,
                    customer.clock_id,
                    rules.reconcile.first_lookup_at(at),
                    json.dumps({"attempt_id": attempt.id}),
                )
            )
        return Intent(
            attempt.id,
            fresh=True,
            attempt=attempt,
            token=method.token,
            route=route.gateways,
            rules=rules,
            clock_id=customer.clock_id,
            invoice_number=invoice.number or "",
            credentials=credentials,
        )

    async def _method(
        self, tx: Transaction, tenant_id: str, order: ChargeOrder, invoice: InvoiceHead
    ) -> PaymentMethod | None:
        if order.payment_method_id is None:
            return await tx.payment_methods.default_for(
                tenant_id, invoice.customer_id, invoice.subscription_id
            )
        name = f"paymentMethods/{order.payment_method_id}"
        method = await tx.payment_methods.get(tenant_id, order.payment_method_id)
        if method is None or method.customer_id != invoice.customer_id:
            raise NotFound(name)
        if not method.attached:
            raise InvalidState(f"{name} is detached and is never charged again", "METHOD_DETACHED")
        return method

    async def _assess(
        self,
        tx: Transaction,
        tenant_id: str,
        rules: PaymentRules,
        method: PaymentMethod,
        customer: Customer,
        amount: Money,
        order: ChargeOrder,
        at: datetime,
    ) -> fraud.Verdict:
        country = method.country or method.billing_country
        recent: list[tuple[str, int]] = []
        for limit in rules.fraud.velocity:
            since = at - limit.window
            if limit.scope == "method":
                count = await tx.payment_attempts.count_since(
                    tenant_id, since, payment_method_id=method.id
                )
            elif limit.scope == "customer":
                count = await tx.payment_attempts.count_since(
                    tenant_id, since, customer_id=customer.id
                )
            else:
                count = (
                    await tx.payment_attempts.count_since(tenant_id, since, country=country)
                    if country
                    else 0
                )
            recent.append((limit.scope, count))
        age = max((at - customer.create_time).days, 0)
        facts = fraud.FraudFacts(
            amount_minor=amount.amount_minor,
            currency=amount.currency_code,
            card_country=method.country,
            billing_country=method.billing_country,
            request_country=order.request_country,
            customer_age_days=age,
            recent_attempts=tuple(recent),
        )
        return fraud.assess(rules.fraud, facts)

    # --- 2. call, 3. outcome -------------------------------------------------------------

    async def _call(self, ctx: CallContext, request_id: str, intent: Intent) -> PaymentAttempt:
        attempt = intent.attempt
        rules = intent.rules
        assert attempt is not None and rules is not None
        tenant_id = ctx.tenant_id
        outcome: GatewayOutcome | None = None
        start = intent.route.index(attempt.gateway) if attempt.gateway in intent.route else 0
        for name in intent.route[start:]:
            if name != attempt.gateway:
                moved = await self._fail_over(ctx, request_id, attempt, name, intent.clock_id)
                if moved is None:  # settled meanwhile (a webhook): nothing more to send
                    break
                attempt = moved
            now = self._wall.now()
            if not self._breakers.allow(tenant_id, name, rules.circuit_breaker, now):
                continue
            try:
                outcome = await self._purchase(tenant_id, rules, name, attempt, intent)
            except NOTHING_DONE as exc:
                # Certainly not charged there: the next gateway of the route may take it.
                log.warning("gateway unavailable", extra={"gateway": name, "attempt": attempt.id})
                self._breakers.record_outage(tenant_id, name, rules.circuit_breaker, now)
                outcome = GatewayOutcome(
                    GatewayStatus.FAILED,
                    decline_code="gateway_unavailable",
                    message=f"no gateway of the route was available ({name}: {exc})",
                )
                continue
            # An unknown outcome (a timeout, a failure, or the gateway's own answer) counts
            # towards opening the breaker; any answer closes it.
            if outcome.status is GatewayStatus.UNKNOWN:
                self._breakers.record_outage(tenant_id, name, rules.circuit_breaker, now)
            else:
                self._breakers.record_success(tenant_id, name)
            break
        if outcome is None:
            outcome = GatewayOutcome(
                GatewayStatus.FAILED,
                decline_code="gateway_unavailable",
                message="every gateway of the route was unavailable; nothing was charged",
            )
        return await self.settle(
            ctx.tenant_id,
            attempt,
            outcome,
            intent.clock_id,
            rules,
            actor=ctx.actor,
            request_id=request_id,
            as_written=True,
        )

    async def _purchase(
        self,
        tenant_id: str,
        rules: PaymentRules,
        name: str,
        attempt: PaymentAttempt,
        intent: Intent,
    ) -> GatewayOutcome:
        request = self._charge_request(tenant_id, attempt, intent)
        return await call_gateway(
            self._directory,
            tenant_id,
            rules,
            name,
            lambda gateway: gateway.purchase(request),
            what="purchase",
            about={"attempt": attempt.id},
            secrets=(intent.token,),
            # read in the intent's transaction for the first gateway of the route
            credentials=intent.credentials if name == intent.route[0] else None,
            certain=NOTHING_DONE,
        )

    async def settle(
        self,
        tenant_id: str,
        attempt: PaymentAttempt,
        outcome: GatewayOutcome,
        clock_id: str | None,
        rules: PaymentRules,
        *,
        actor: str,
        request_id: str,
        as_written: bool = False,
    ) -> PaymentAttempt:
        """Step 3: the outcome in a short transaction of its own, retried on a conflict.
        `as_written`: `attempt` is as this process wrote it (see `record_outcome`)."""

        async def work(tx: Transaction) -> PaymentAttempt:
            at = await self._time.now(tx, tenant_id, clock_id)
            return await record_outcome(
                tx,
                tenant_id,
                attempt,
                outcome,
                at,
                rules,
                actor=actor,
                request_id=request_id,
                as_written=as_written,
            )

        return await retry_on_conflict(self._store, work, tries=OUTCOME_TRIES)

    async def _fail_over(
        self,
        ctx: CallContext,
        request_id: str,
        attempt: PaymentAttempt,
        to: str,
        clock_id: str | None,
    ) -> PaymentAttempt | None:
        """The pending attempt moves to the next gateway of its route (compare-and-set,
        audited); None if it is not pending any more."""
        async with self._store.write(None) as tx:
            current = await tx.payment_attempts.get(ctx.tenant_id, attempt.id, lock=True)
            if current is None or current.status is not AttemptStatus.PENDING:
                return None
            at = await self._time.now(tx, ctx.tenant_id, clock_id)
            moved = replace(current, gateway=to, updated_at=at, version=current.version + 1)
            if not await tx.payment_attempts.update(
                ctx.tenant_id, moved, AttemptStatus.PENDING, current.version
            ):
                return None
            await tx.audit.add(
                AuditRecord(
                    new_id("aud"),
                    ctx.tenant_id,
                    ctx.actor,
                    ctx.method,
                    request_id,
                    b"",
                    moved.name,
                    "fail_over",
                    {"from": current.gateway, "to": to, "reason": "gateway unavailable"},
                    at,
                )
            )
            return moved

    def _charge_request(
        self, tenant_id: str, attempt: PaymentAttempt, intent: Intent
    ) -> ChargeRequest:
        return charge_request(tenant_id, attempt, intent.token, intent.invoice_number)


def charge_request(
    tenant_id: str, attempt: PaymentAttempt, token: str, invoice_number: str
) -> ChargeRequest:
    """The gateway request of an attempt, the same every time it is built: the reconciler
    rebuilds it for gateways whose lookup replays the original request (ADR 0038)."""
    return ChargeRequest(
        idempotency_key=attempt.idempotency_key,
        amount_minor=attempt.amount_minor,
        currency=attempt.currency,
        token=token,
        customer_reference=attempt.customer_id,
        description=f"invoice {invoice_number}".strip(),
        metadata={
            "tenant": tenant_id,
            "invoice": attempt.invoice_id or "",
            "attempt": attempt.id,
            # automatic collection and dunning retries charge with the customer away
            # (Stripe's off_session, ADR 0037)
            "source": attempt.source,
        },
    )


def _amount(requested: Money | None, invoice: InvoiceHead, remaining: int) -> int:
    if requested is None:
        return remaining
    if requested.currency_code != invoice.currency:
        raise InvalidArgument.single("amount.currency_code", f"must be {invoice.currency}")
    if requested.amount_minor <= 0:
        raise InvalidArgument.single("amount.amount_minor", "must be positive")
    if requested.amount_minor > remaining:
        raise InvalidArgument.single(
            "amount", f"at most {Money(invoice.currency, remaining)} remains to be paid"
        )
    return requested.amount_minor
