"""Subscription use cases: create, read, preview and make changes, cancel, reactivate, pause,
resume, entitlements.

Raises: InvalidArgument, NotFound, EtagMismatch, InvalidState (e.g. changing a canceled
subscription), NoActiveRuleSet, IdempotencyKeyReused, RequestInProgress.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.invoicing import after_invoice, issue_invoice
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.plan_items import (
    items_for_plan,
    parse_overrides,
    parse_quantities,
    plan_at,
)
from billing.app.ports import DueItem, Store, Transaction
from billing.app.records import AuditRecord, OutboxEvent
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.usage import UsageUseCases
from billing.app.usage_billing import usage_lines
from billing.app.writes import WriteRunner
from billing.domain import periods
from billing.domain.errors import (
    EtagMismatch,
    InvalidArgument,
    InvalidState,
    NotFound,
    Violations,
)
from billing.domain.names import parse_name
from billing.domain.subscriptions import (
    Factor,
    Item,
    Line,
    PendingChange,
    Phase,
    Status,
    Subscription,
    item_from_dict,
    item_to_dict,
    line_from_dict,
    line_to_dict,
    period_fee_lines,
    phase_from_dict,
    phase_to_dict,
    proration_lines,
)
from billing.plugins.engines import ProrationPolicyEngine, ProrationRequest
from billing.plugins.registry import Engines
from billing.rules.model import Plan, PlanChangeFacts, ProrationRule, RuleSet

MAX_TRIAL_DAYS = 730
MAX_TERM_PERIODS = 120


@dataclass(frozen=True)
class NewSubscription:
    customer: str
    plan: str
    quantities: dict[str, int] = field(default_factory=dict)
    price_overrides: dict[str, str] = field(default_factory=dict)
    start_time: datetime | None = None
    anchor_day: int = 0
    trial_days: int = -1  # -1: the plan's
    term_periods: int = 0
    auto_renew: bool = True
    phases: tuple[Phase, ...] = ()
    coupon: str = ""  # coupons/<code>


@dataclass(frozen=True)
class ChangeRequest:
    subscription: str
    plan: str  # "" = same plan
    quantities: dict[str, int]
    proration_time: datetime | None
    etag: str = ""


@dataclass(frozen=True)
class ChangePlan:
    """What a change would do; a preview returns it, a change applies it."""

    subscription: Subscription
    plan: Plan
    items: tuple[Item, ...]
    lines: tuple[Line, ...]
    at: datetime
    at_period_end: bool
    behavior: str
    rules: ActiveRules


@dataclass(frozen=True)
class ChangeResult:
    subscription: Subscription
    lines: tuple[Line, ...]
    invoice_id: str
    at: datetime


@dataclass(frozen=True)
class Cancellation:
    name: str
    mode: str  # "immediately", "at_period_end", "at"
    at: datetime | None
    etag: str


@dataclass(frozen=True)
class Page:
    subscriptions: list[Subscription]
    next_page_token: str


def cadence_of(sub: Subscription) -> periods.Cadence:
    return periods.Cadence(sub.interval, sub.interval_count)  # type: ignore[arg-type]


class SubscriptionUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        engines: Engines,
        time: BillingTime,
        work_added: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._engines = engines
        self._time = time
        self._work_added = work_added  # wakes this process's due-work worker
        self.usage: UsageUseCases | None = None  # set by the composition root

    # --- create -----------------------------------------------------------------------

    async def create(self, ctx: CallContext, write: Write[NewSubscription]) -> Subscription:
        request = write.input
        customer_id = parse_name(request.customer, "customers", "customer")
        plan_code = _plan_code(request.plan)
        quantities = parse_quantities(request.quantities)
        overrides = parse_overrides(request.price_overrides)
        _check_create(request)

        async def work(tx: Transaction, now: datetime) -> Subscription:
            customer = await tx.customers.get(ctx.tenant_id, customer_id)
            if customer is None:
                raise NotFound(request.customer)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            rules = active.rules
            start = request.start_time or await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            plan = plan_at(rules, plan_code, start)
            currency = customer.fields.currency_code
            items = items_for_plan(rules, plan, currency, start, quantities, overrides)
            zone = customer.fields.time_zone if rules.invoicing.time_zone == "customer" else "UTC"
            cadence = periods.Cadence(plan.interval, plan.interval_count)
            trial_days = plan.trial_days if request.trial_days < 0 else request.trial_days
            sub = Subscription(
                id=new_id("sub"),
                customer_id=customer_id,
                plan_code=plan.code,
                currency=currency,
                status=Status.ACTIVE,
                items=items,
                anchor=start,
                interval=plan.interval,
                interval_count=plan.interval_count,
                time_zone=zone,
                period_start=start,
                period_end=start,
                created_at=start,
                version=1,
                rule_set=active.content_hash,
                clock_id=customer.clock_id,
                auto_renew=request.auto_renew,
                phases=request.phases,
            )
            if request.coupon:
                coupon = await tx.coupons.get(
                    ctx.tenant_id, request.coupon.removeprefix("coupons/")
                )
                if coupon is None:
                    raise NotFound(request.coupon)
                if not coupon.applies_to(plan.code):
                    raise InvalidArgument.single(
                        "coupon", f"{request.coupon} does not apply to plans/{plan.code}"
                    )
                sub = replace(
                    sub, coupon_code=coupon.code, coupon_periods_left=coupon.first_periods_left()
                )
            if trial_days > 0:
                trial_end = periods.boundary(start, periods.Cadence("day", trial_days), 1, zone)
                sub = replace(
                    sub, status=Status.TRIALING, period_end=trial_end, trial_end=trial_end
                )
                await self._schedule(tx, ctx.tenant_id, sub, "trial_end", trial_end)
            else:
                sub = await self.start_billing(
                    tx,
                    ctx.tenant_id,
                    sub,
                    active,
                    start,
                    request.anchor_day,
                    cadence,
                    "subscription_create",
                )
            if request.term_periods:
                sub = replace(
                    sub, term_end=periods.boundary(sub.anchor, cadence, request.term_periods, zone)
                )
            await tx.subscriptions.insert(ctx.tenant_id, sub)
            await self._record(
                tx,
                ctx,
                write.request_id,
                sub,
                "subscription.created",
                "create",
                {"plan": plan.code, "status": sub.status.value},
                now,
            )
            return sub

        created = await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)
        self._work_added()
        return created

    async def start_billing(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        active: ActiveRules,
        start: datetime,
        anchor_day: int,
        cadence: periods.Cadence,
        reason: str,
        usage_before: tuple[datetime, datetime] | None = None,
    ) -> Subscription:
        """First period from `start`: a full one, or a prorated stub up to the anchor day;
        invoiced in advance; its renewal scheduled. `usage_before` bills the usage of an
        earlier span on the same invoice (in arrears), e.g. up to a pause."""
        zone = sub.time_zone
        factor: Factor | None = None
        first = periods.next_anchor_on_day(start, anchor_day, zone) if anchor_day else start
        if first == start:
            anchor, end = start, periods.boundary(start, cadence, 1, zone)
        else:
            # A stub [start, first) prorated over the full interval that ends at `first`.
            monthly = cadence.interval == "month" and cadence.count == 1
            anchor = periods.day_anchor(first, anchor_day, zone) if monthly else first
            full_start = anchor if anchor != first else periods.boundary(first, cadence, -1, zone)
            end = first
            factor = self._factor(
                active.rules, sub, ProrationRequest(full_start, first, start, zone)
            )
        sub = replace(
            sub,
            status=Status.ACTIVE,
            anchor=anchor,
            period_start=start,
            period_end=end,
            items=tuple(item.billed() for item in sub.items),
        )
        invoice_id = new_id("inv")
        if await tx.billing_cycles.claim(tenant_id, sub.id, start, invoice_id):
            rounding = active.rules.money.rounding_for(sub.currency)
            lines = period_fee_lines(sub.items, sub.currency, rounding, (start, end), factor)
            if usage_before is not None and self.usage is not None:
                lines += await usage_lines(
                    tx, tenant_id, sub, active.rules, self.usage, usage_before, invoice_id, start
                )
            invoice = await issue_invoice(
                tx,
                tenant_id,
                sub,
                reason=reason,
                period=(start, end),
                lines=lines,
                rules=active,
                at=start,
                invoice_id=invoice_id,
            )
            sub = after_invoice(sub, invoice)
        await self._schedule(tx, tenant_id, sub, "renew", end)
        return sub

    # --- read -------------------------------------------------------------------------

    async def get(self, ctx: CallContext, name: str) -> Subscription:
        subscription_id = parse_name(name, "subscriptions")
        async with self._store.read() as tx:
            sub = await tx.subscriptions.get(ctx.tenant_id, subscription_id)
        if sub is None:
            raise NotFound(name)
        return sub

    async def list_page(
        self, ctx: CallContext, customer: str, page_size: int, page_token: str
    ) -> Page:
        customer_id = parse_name(customer, "customers", "customer") if customer else None
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.subscriptions.list_after(ctx.tenant_id, customer_id, after, limit + 1)
        page = rows[:limit]
        token = encode_page_token(page[-1].id) if len(rows) > limit else ""
        return Page(page, token)

    async def entitlements(
        self, ctx: CallContext, name: str
    ) -> tuple[list[tuple[str, int | None]], ActiveRules]:
        sub = await self.get(ctx, name)
        active = await self._rules.active_rules(ctx)
        plan = active.rules.catalog.plans.get(sub.plan_code)
        if plan is None or sub.status == Status.CANCELED:
            return [], active
        return [(e.feature, e.limit) for e in plan.entitlements], active

    # --- changes ------------------------------------------------------------------------

    async def preview_change(self, ctx: CallContext, change: ChangeRequest) -> ChangePlan:
        async with self._store.read() as tx:
            return await self._plan_change(tx, ctx.tenant_id, change)

    async def change(self, ctx: CallContext, write: Write[ChangeRequest]) -> ChangeResult:
        change = write.input
        if not change.etag:
            raise InvalidArgument.single("etag", "is required: send the etag you read")

        async def work(tx: Transaction, now: datetime) -> ChangeResult:
            planned = await self._plan_change(tx, ctx.tenant_id, change)
            sub = planned.subscription
            if change.etag != sub.etag:
                raise EtagMismatch(sub.name, change.etag, sub.etag)
            invoice_id = ""
            if planned.at_period_end:
                updated = replace(
                    sub,
                    pending_change=PendingChange(planned.plan.code, planned.items, sub.period_end),
                    version=sub.version + 1,
                )
            else:
                updated = replace(
                    sub,
                    plan_code=planned.plan.code,
                    items=planned.items,
                    pending_change=None,
                    version=sub.version + 1,
                )
                if planned.behavior == "create_prorations":
                    for line in planned.lines:
                        await tx.pending_items.add(
                            ctx.tenant_id,
                            item_id=new_id("pi"),
                            subscription_id=sub.id,
                            line=line,
                            rule_set=planned.rules.content_hash,
                            created_at=planned.at,
                        )
                elif planned.behavior == "always_invoice" and planned.lines:
                    invoice = await issue_invoice(
                        tx,
                        ctx.tenant_id,
                        updated,
                        reason="subscription_update",
                        period=(planned.at, sub.period_end),
                        lines=planned.lines,
                        rules=planned.rules,
                        at=planned.at,
                    )
                    invoice_id = invoice.id
            if not await tx.subscriptions.update(ctx.tenant_id, updated, sub.version):
                raise EtagMismatch(sub.name, change.etag, "changed concurrently")
            await self._record(
                tx,
                ctx,
                write.request_id,
                updated,
                "subscription.updated",
                "change",
                {
                    "plan": {"from": sub.plan_code, "to": planned.plan.code},
                    "at_period_end": planned.at_period_end,
                    "items": [item_to_dict(i) for i in planned.items],
                },
                now,
            )
            if planned.plan.code != sub.plan_code and not planned.at_period_end:
                await self._entitlements_changed(tx, ctx.tenant_id, updated, planned.rules, now)
            return ChangeResult(updated, planned.lines, invoice_id, planned.at)

        return await self._writes.run(ctx, write, CHANGE_CODEC, work)

    async def _plan_change(
        self, tx: Transaction, tenant_id: str, change: ChangeRequest
    ) -> ChangePlan:
        subscription_id = parse_name(change.subscription, "subscriptions", "change.subscription")
        quantities = parse_quantities(change.quantities)
        sub = await tx.subscriptions.get(tenant_id, subscription_id)
        if sub is None:
            raise NotFound(change.subscription)
        if sub.status not in {Status.ACTIVE, Status.TRIALING, Status.PAST_DUE}:
            raise InvalidState(f"{sub.name} is {sub.status.value}", "SUBSCRIPTION_NOT_ACTIVE")
        active = await self._rules.active_rules_in(tx, tenant_id)
        rules = active.rules
        at = change.proration_time or await self._time.now(tx, tenant_id, sub.clock_id)
        if not sub.period_start <= at < sub.period_end:
            raise InvalidArgument.single(
                "change.proration_time",
                f"must lie in the current period [{sub.period_start.isoformat()},"
                f" {sub.period_end.isoformat()})",
            )
        new_code = _plan_code(change.plan, "change.plan") if change.plan else sub.plan_code
        new_plan = plan_at(rules, new_code, at, "change.plan")
        old_plan = rules.catalog.plans.get(sub.plan_code) or new_plan
        if (new_plan.interval, new_plan.interval_count) != (sub.interval, sub.interval_count):
            raise InvalidState(
                "changing the billing interval is not supported yet", "INTERVAL_CHANGE"
            )
        current = {item.key: item.quantity for item in sub.items if item.price_code}
        same_plan = new_code == sub.plan_code
        keep = {i.key: i.unit_amount for i in sub.items if i.negotiated} if same_plan else None
        new_items = items_for_plan(
            rules, new_plan, sub.currency, at, quantities, keep or {}, carried_quantities=current
        )
        facts = PlanChangeFacts(
            old_plan.product, new_plan.product, old_plan.interval, new_plan.interval
        )
        timing = rules.catalog.plan_changes.decide(facts)
        rule = rules.proration.decide(facts)
        at_end = timing is not None and timing.timing == "end_of_period"
        if at_end or sub.status == Status.TRIALING:
            return ChangePlan(
                sub, new_plan, new_items, (), at, sub.status != Status.TRIALING, "none", active
            )
        behavior = rule.behavior if rule is not None else "none"
        lines: tuple[Line, ...] = ()
        if rule is not None and behavior != "none":
            factor = self._factor_for(
                rule, ProrationRequest(sub.period_start, sub.period_end, at, sub.time_zone)
            )
            repriced = (
                items_for_plan(
                    rules, old_plan, sub.currency, at, {}, {}, carried_quantities=current
                )
                if (rule.credit_basis == "current_price")
                else ()
            )
            lines = tuple(
                proration_lines(
                    sub.items,
                    _billed_as_new(new_items),
                    factor=factor,
                    currency=sub.currency,
                    rounding=rules.money.rounding_for(sub.currency),
                    period=(at, sub.period_end),
                    credit_unused=rule.credit_unused,
                    credit_basis=rule.credit_basis,
                    current_unit_amounts={i.key: i.unit_amount for i in repriced},
                )
            )
        return ChangePlan(
            sub, new_plan, _billed_as_new(new_items), lines, at, False, behavior, active
        )

    # --- cancel, reactivate, pause, resume -------------------------------------------------

    async def cancel(self, ctx: CallContext, write: Write[Cancellation]) -> Subscription:
        request = write.input
        subscription_id = parse_name(request.name, "subscriptions")

        async def work(tx: Transaction, now: datetime) -> Subscription:
            sub = await self._load_for_write(
                tx, ctx.tenant_id, subscription_id, request.name, request.etag
            )
            if sub.status == Status.CANCELED:
                raise InvalidState(f"{sub.name} is already canceled", "SUBSCRIPTION_CANCELED")
            at = await self._time.now(tx, ctx.tenant_id, sub.clock_id)
            if request.mode == "immediately":
                updated = await self.end_now(tx, ctx.tenant_id, sub, at)
            elif request.mode == "at_period_end":
                updated = replace(
                    sub,
                    cancel_at_period_end=True,
                    cancel_at=sub.period_end,
                    version=sub.version + 1,
                )
            else:
                assert request.at is not None
                if request.at <= at:
                    raise InvalidArgument.single("at", "must be in the future")
                updated = replace(
                    sub,
                    cancel_at=request.at,
                    cancel_at_period_end=request.at == sub.period_end,
                    version=sub.version + 1,
                )
                await self._schedule(tx, ctx.tenant_id, updated, "cancel", request.at)
            await self._save(tx, ctx.tenant_id, updated, sub.version)
            await self._record(
                tx,
                ctx,
                write.request_id,
                updated,
                "subscription.updated",
                "cancel",
                {"mode": request.mode},
                now,
            )
            return updated

        result = await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)
        self._work_added()
        return result

    async def end_now(
        self, tx: Transaction, tenant_id: str, sub: Subscription, at: datetime
    ) -> Subscription:
        """Cancel at `at`: credit unused time if the rules say so, and a final invoice for
        the credit and anything still pending."""
        active = await self._rules.active_rules_in(tx, tenant_id)
        rules = active.rules
        plan = rules.catalog.plans.get(sub.plan_code)
        lines: list[Line] = []
        if (
            plan is not None
            and sub.status != Status.TRIALING
            and sub.period_start <= at < sub.period_end
        ):
            facts = PlanChangeFacts(plan.product, plan.product, plan.interval, plan.interval)
            rule = rules.proration.decide(facts)
            if rule is not None and rule.credit_unused and rule.behavior != "none":
                factor = self._factor_for(
                    rule, ProrationRequest(sub.period_start, sub.period_end, at, sub.time_zone)
                )
                lines = proration_lines(
                    sub.items,
                    (),
                    factor=factor,
                    currency=sub.currency,
                    rounding=rules.money.rounding_for(sub.currency),
                    period=(at, sub.period_end),
                    credit_unused=True,
                    credit_basis=rule.credit_basis,
                    current_unit_amounts={},
                )
        ended = replace(
            sub,
            status=Status.CANCELED,
            canceled_at=at,
            cancel_at=at,
            cancel_at_period_end=False,
            version=sub.version + 1,
        )
        invoice_id = new_id("inv")
        pending = await tx.pending_items.take(tenant_id, sub.id, invoice_id)
        if self.usage is not None and sub.status != Status.TRIALING:
            lines += await usage_lines(
                tx,
                tenant_id,
                sub,
                rules,
                self.usage,
                (sub.period_start, max(at, sub.period_start)),
                invoice_id,
                at,
            )
        if lines or pending:
            await issue_invoice(
                tx,
                tenant_id,
                ended,
                reason="final",
                period=(at, sub.period_end),
                lines=[*pending, *lines],
                rules=active,
                at=at,
                invoice_id=invoice_id,
            )
        return ended

    async def reactivate(self, ctx: CallContext, write: Write[tuple[str, str]]) -> Subscription:
        name, etag = write.input
        subscription_id = parse_name(name, "subscriptions")

        async def work(tx: Transaction, now: datetime) -> Subscription:
            sub = await self._load_for_write(tx, ctx.tenant_id, subscription_id, name, etag)
            if sub.status == Status.CANCELED:
                raise InvalidState(
                    f"{sub.name} has ended; create a new subscription", "SUBSCRIPTION_CANCELED"
                )
            if sub.cancel_at is None and not sub.cancel_at_period_end:
                raise InvalidState(f"{sub.name} is not set to cancel", "NOT_CANCELING")
            updated = replace(
                sub, cancel_at=None, cancel_at_period_end=False, version=sub.version + 1
            )
            await self._save(tx, ctx.tenant_id, updated, sub.version)
            await self._record(
                tx, ctx, write.request_id, updated, "subscription.updated", "reactivate", {}, now
            )
            return updated

        return await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)

    async def pause(self, ctx: CallContext, write: Write[tuple[str, str]]) -> Subscription:
        name, etag = write.input
        subscription_id = parse_name(name, "subscriptions")

        async def work(tx: Transaction, now: datetime) -> Subscription:
            sub = await self._load_for_write(tx, ctx.tenant_id, subscription_id, name, etag)
            if sub.status not in {Status.ACTIVE, Status.TRIALING}:
                raise InvalidState(f"{sub.name} is {sub.status.value}", "SUBSCRIPTION_NOT_ACTIVE")
            at = await self._time.now(tx, ctx.tenant_id, sub.clock_id)
            updated = replace(sub, status=Status.PAUSED, paused_at=at, version=sub.version + 1)
            await self._save(tx, ctx.tenant_id, updated, sub.version)
            await self._record(
                tx, ctx, write.request_id, updated, "subscription.paused", "pause", {}, now
            )
            return updated

        return await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)

    async def resume(self, ctx: CallContext, write: Write[tuple[str, str]]) -> Subscription:
        name, etag = write.input
        subscription_id = parse_name(name, "subscriptions")

        async def work(tx: Transaction, now: datetime) -> Subscription:
            sub = await self._load_for_write(tx, ctx.tenant_id, subscription_id, name, etag)
            if sub.status != Status.PAUSED:
                raise InvalidState(f"{sub.name} is not paused", "SUBSCRIPTION_NOT_PAUSED")
            at = await self._time.now(tx, ctx.tenant_id, sub.clock_id)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            resumed = replace(sub, paused_at=None, version=sub.version + 1)
            paused_at = sub.paused_at or at
            # Usage up to the pause was never billed: it goes on the resume invoice.
            before = (sub.period_start, paused_at) if paused_at > sub.period_start else None
            resumed = await self.start_billing(
                tx,
                ctx.tenant_id,
                resumed,
                active,
                at,
                0,
                cadence_of(sub),
                "subscription_resume",
                usage_before=before,
            )
            await self._save(tx, ctx.tenant_id, resumed, sub.version)
            await self._record(
                tx, ctx, write.request_id, resumed, "subscription.resumed", "resume", {}, now
            )
            return resumed

        result = await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)
        self._work_added()
        return result

    # --- helpers ----------------------------------------------------------------------------

    def _factor(self, rules: RuleSet, sub: Subscription, request: ProrationRequest) -> Factor:
        plan = rules.catalog.plans.get(sub.plan_code)
        rule = None
        if plan is not None:
            rule = rules.proration.decide(
                PlanChangeFacts(plan.product, plan.product, plan.interval, plan.interval)
            )
        return self._remaining(rule.granularity if rule is not None else "second", request)

    def _factor_for(self, rule: ProrationRule, request: ProrationRequest) -> Factor:
        return self._remaining(rule.granularity, request)

    def _remaining(self, granularity: str, request: ProrationRequest) -> Factor:
        engine: ProrationPolicyEngine = self._engines.get("proration_policy", granularity)
        result = engine.remaining(request)
        return Factor(result.numerator, result.denominator, result.unit)

    async def _load_for_write(
        self, tx: Transaction, tenant_id: str, subscription_id: str, name: str, etag: str
    ) -> Subscription:
        sub = await tx.subscriptions.get(tenant_id, subscription_id)
        if sub is None:
            raise NotFound(name)
        if etag and etag != sub.etag:
            raise EtagMismatch(sub.name, etag, sub.etag)
        return sub

    async def _save(
        self, tx: Transaction, tenant_id: str, sub: Subscription, expected_version: int
    ) -> None:
        if not await tx.subscriptions.update(tenant_id, sub, expected_version):
            raise EtagMismatch(sub.name, f'W/"{expected_version}"', "changed concurrently")

    async def _schedule(
        self, tx: Transaction, tenant_id: str, sub: Subscription, kind: str, due_at: datetime
    ) -> None:
        await tx.due_work.schedule(
            DueItem(tenant_id, new_id("due"), kind, sub.id, sub.clock_id, due_at)
        )

    async def _record(
        self,
        tx: Transaction,
        ctx: CallContext,
        request_id: str,
        sub: Subscription,
        event_type: str,
        action: str,
        changes: dict[str, Any],
        now: datetime,
    ) -> None:
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                ctx.tenant_id,
                event_type,
                sub.name,
                {"status": sub.status.value, **changes},
                now,
            )
        )
        await tx.audit.add(
            AuditRecord(
                new_id("aud"),
                ctx.tenant_id,
                ctx.actor,
                ctx.method,
                request_id,
                sub.name,
                action,
                changes,
                now,
            )
        )

    async def _entitlements_changed(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        active: ActiveRules,
        now: datetime,
    ) -> None:
        plan = active.rules.catalog.plans.get(sub.plan_code)
        features = [e.feature for e in plan.entitlements] if plan is not None else []
        await tx.outbox.add(
            OutboxEvent(
                new_id("evt"),
                tenant_id,
                "entitlements.changed",
                sub.name,
                {"features": features},
                now,
            )
        )


def _billed_as_new(items: tuple[Item, ...]) -> tuple[Item, ...]:
    """Items after a change are billed (by proration) at their current amounts."""
    return tuple(item.billed() for item in items)


def _plan_code(name: str, field_path: str = "plan") -> str:
    head, _, code = name.partition("/")
    if head != "plans" or not code:
        raise InvalidArgument.single(field_path, f"must look like plans/<code>, got {name!r}")
    return code


def _check_create(request: NewSubscription) -> None:
    v = Violations()
    previous = 0
    for i, phase in enumerate(request.phases):
        if phase.start_period <= previous:
            v.add(f"phases[{i}].start_period", "must be at least 1 and ascend")
        previous = phase.start_period
        if phase.plan_code and not phase.plan_code.replace("_", "").isalnum():
            v.add(f"phases[{i}].plan", f"must look like plans/<code>, got {phase.plan_code!r}")
    if not 0 <= request.anchor_day <= 31:
        v.add("billing_cycle_anchor_day", "must be 0 (the start) or a day of month 1-31")
    if not -1 <= request.trial_days <= MAX_TRIAL_DAYS:
        v.add("trial_days", f"must be -1 (the plan's), 0 or up to {MAX_TRIAL_DAYS}")
    if not 0 <= request.term_periods <= MAX_TERM_PERIODS:
        v.add("term_periods", f"must be 0 to {MAX_TERM_PERIODS}")
    v.raise_if_any()


# --- stored replies ---------------------------------------------------------------------------


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _from_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def subscription_to_dict(sub: Subscription) -> dict[str, Any]:
    change = sub.pending_change
    return {
        "id": sub.id,
        "customer_id": sub.customer_id,
        "plan_code": sub.plan_code,
        "currency": sub.currency,
        "status": sub.status.value,
        "items": [item_to_dict(i) for i in sub.items],
        "anchor": _dt(sub.anchor),
        "interval": sub.interval,
        "interval_count": sub.interval_count,
        "time_zone": sub.time_zone,
        "period_start": _dt(sub.period_start),
        "period_end": _dt(sub.period_end),
        "created_at": _dt(sub.created_at),
        "version": sub.version,
        "rule_set": sub.rule_set,
        "clock_id": sub.clock_id,
        "trial_end": _dt(sub.trial_end),
        "cancel_at": _dt(sub.cancel_at),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "canceled_at": _dt(sub.canceled_at),
        "paused_at": _dt(sub.paused_at),
        "pending_change": None
        if change is None
        else {
            "plan_code": change.plan_code,
            "items": [item_to_dict(i) for i in change.items],
            "effective_at": _dt(change.effective_at),
        },
        "term_end": _dt(sub.term_end),
        "auto_renew": sub.auto_renew,
        "phases": [phase_to_dict(p) for p in sub.phases],
        "coupon_code": sub.coupon_code,
        "coupon_periods_left": sub.coupon_periods_left,
    }


def subscription_from_dict(d: dict[str, Any]) -> Subscription:
    change = d["pending_change"]
    return Subscription(
        id=d["id"],
        customer_id=d["customer_id"],
        plan_code=d["plan_code"],
        currency=d["currency"],
        status=Status(d["status"]),
        items=tuple(item_from_dict(i) for i in d["items"]),
        anchor=datetime.fromisoformat(d["anchor"]),
        interval=d["interval"],
        interval_count=d["interval_count"],
        time_zone=d["time_zone"],
        period_start=datetime.fromisoformat(d["period_start"]),
        period_end=datetime.fromisoformat(d["period_end"]),
        created_at=datetime.fromisoformat(d["created_at"]),
        version=d["version"],
        rule_set=d["rule_set"],
        clock_id=d["clock_id"],
        trial_end=_from_dt(d["trial_end"]),
        cancel_at=_from_dt(d["cancel_at"]),
        cancel_at_period_end=d["cancel_at_period_end"],
        canceled_at=_from_dt(d["canceled_at"]),
        paused_at=_from_dt(d["paused_at"]),
        pending_change=None
        if change is None
        else PendingChange(
            change["plan_code"],
            tuple(item_from_dict(i) for i in change["items"]),
            datetime.fromisoformat(change["effective_at"]),
        ),
        term_end=_from_dt(d["term_end"]),
        auto_renew=d["auto_renew"],
        phases=tuple(phase_from_dict(p) for p in d["phases"]),
        coupon_code=d.get("coupon_code"),
        coupon_periods_left=d.get("coupon_periods_left"),
    )


class _SubscriptionCodec:
    def encode(self, result: Subscription) -> bytes:
        return json.dumps(subscription_to_dict(result)).encode()

    def decode(self, data: bytes) -> Subscription:
        return subscription_from_dict(json.loads(data))


class _ChangeCodec:
    def encode(self, result: ChangeResult) -> bytes:
        return json.dumps(
            {
                "subscription": subscription_to_dict(result.subscription),
                "lines": [line_to_dict(line) for line in result.lines],
                "invoice_id": result.invoice_id,
                "at": result.at.isoformat(),
            }
        ).encode()

    def decode(self, data: bytes) -> ChangeResult:
        d = json.loads(data)
        return ChangeResult(
            subscription_from_dict(d["subscription"]),
            tuple(line_from_dict(line) for line in d["lines"]),
            d["invoice_id"],
            datetime.fromisoformat(d["at"]),
        )


SUBSCRIPTION_CODEC = _SubscriptionCodec()
CHANGE_CODEC = _ChangeCodec()
