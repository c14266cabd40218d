"""Subscription use cases: create, read, preview and make changes, cancel, reactivate, pause,
resume, entitlements.

Raises: InvalidArgument, NotFound, EtagMismatch, InvalidState (e.g. changing a canceled
subscription), NoActiveRuleSet, IdempotencyKeyReused, RequestInProgress.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.cached_reads import decode_entitlements, encode_entitlements
from billing.app.cancellation_ports import (
    UNSPECIFIED_REASON,
    CancellationQuery,
    CancellationRecord,
)
from billing.app.context import CallContext, Write
from billing.app.hot_cache import NO_CACHE, TENANT_SCOPE, Entry, HotCache, customer_scope
from billing.app.ids import new_id
from billing.app.invoice_tax import tax_enabled, with_tax
from billing.app.invoicing import after_invoice, issue_invoice
from billing.app.mrr import track as track_mrr
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.plan_items import (
    items_for_plan,
    parse_overrides,
    parse_quantities,
    plan_at,
)
from billing.app.ports import DueItem, ReadAhead, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.usage import UsageUseCases
from billing.app.usage_billing import usage_lines
from billing.app.writes import WriteRunner
from billing.domain import periods
from billing.domain.credits import (
    CREDIT_KINDS,
    PeriodInvoice,
    Proration,
    carry_paid,
    creditable_minor,
    proration_lines,
    record_paid,
    repair_line,
)
from billing.domain.customers import Customer
from billing.domain.entitlements import CustomerFeature, Grant, combine
from billing.domain.errors import (
    EtagMismatch,
    InvalidArgument,
    InvalidState,
    NotFound,
    PlanChangeRefused,
    Violations,
)
from billing.domain.invoices import InvoiceStatus
from billing.domain.names import parse_name
from billing.domain.plan_changes import change_direction
from billing.domain.subscriptions import (
    Factor,
    Item,
    Line,
    LineKind,
    PendingChange,
    Phase,
    Status,
    StubProration,
    Subscription,
    ending_at_period_end,
    item_from_dict,
    item_to_dict,
    line_from_dict,
    line_to_dict,
    moved,
    period_fee_lines,
    phase_from_dict,
    phase_to_dict,
)
from billing.domain.tax_lines import as_priced, with_change_plans
from billing.plugins.engines import ProrationPolicyEngine, ProrationRequest
from billing.plugins.registry import Engines
from billing.rules.model import Plan, PlanChangeFacts, ProrationRule, RuleSet

MAX_TRIAL_DAYS = 730
# How far a start may lie behind the customer's clock: a backdated start bills every period in
# between at once, so this bounds the work one call makes (366 daily renewals at most).
BACKDATE_MAX = timedelta(days=366)
_BASE = "base_subscription"
INVOICES_PAGE = 100  # a subscription's invoices are read this many at a time for a credit cap
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
    first_stub: StubProration = StubProration.PRORATE
    base_subscription: str = ""  # subscriptions/<id> an add-on aligns to


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
    # Set when the billing interval changes at once: the new plan's first period, from the
    # change, invoiced at once with the credit for the old period (see _interval_change).
    new_period: tuple[datetime, datetime] | None = None
    # A preview with tax on: the lines with their tax as an invoice of them would carry it.
    taxed: tuple[Line, ...] | None = None


@dataclass(frozen=True)
class ChangeResult:
    subscription: Subscription
    lines: tuple[Line, ...]
    invoice_id: str
    at: datetime


ENTITLEMENT_READ_ROWS = 1000  # subscriptions read per statement for GetEntitlements


@dataclass(frozen=True)
class Cancellation:
    name: str
    mode: str  # "immediately", "at_period_end", "at"
    at: datetime | None
    etag: str
    reason_code: str = UNSPECIFIED_REASON  # Customer Experience's code for why
    feedback: str = ""  # the customer's own words


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
        cache: HotCache = NO_CACHE,  # hot reads shared between processes (ADR 0066)
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._engines = engines
        self._time = time
        self._work_added = work_added  # wakes this process's due-work worker
        self.work_added = work_added
        self.usage: UsageUseCases | None = None  # set by the composition root
        self.cache = cache

    # --- create -----------------------------------------------------------------------

    async def create(self, ctx: CallContext, write: Write[NewSubscription]) -> Subscription:
        work = self.create_work(ctx, write)
        customer_id = parse_name(write.input.customer, "customers", "customer")
        ahead = ReadAhead(customer_id, books=True)  # its first invoice posts to the journal
        created = await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work, ahead)
        self._work_added()
        return created

    def create_work(
        self, ctx: CallContext, write: Write[NewSubscription]
    ) -> Callable[[Transaction, datetime], Awaitable[Subscription]]:
        """The create as a step of a transaction (CreateSubscription's, or ApplyContract's)."""
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
            clock_now = await self._time.now(tx, ctx.tenant_id, customer.clock_id)
            start = request.start_time or clock_now
            if start < clock_now - BACKDATE_MAX:
                # Every period between the start and now would be billed by due work at once.
                raise InvalidArgument.single(
                    "start_time",
                    f"may be at most {BACKDATE_MAX.days} days before the customer's clock"
                    f" ({clock_now.isoformat()}); every period in between would be billed",
                )
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
                status=Status.TRIALING if trial_days > 0 else Status.ACTIVE,
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
                first_stub=request.first_stub.value,
            )
            sub = await self._billing_days(tx, ctx.tenant_id, sub, request, customer, plan, start)
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
                if (mismatch := coupon.currency_mismatch(currency)) is not None:
                    raise InvalidArgument.single("coupon", mismatch)
                sub = replace(
                    sub, coupon_code=coupon.code, coupon_periods_left=coupon.first_periods_left()
                )
            if trial_days > 0:
                trial_end = periods.boundary(start, periods.Cadence("day", trial_days), 1, zone)
                sub = replace(sub, period_end=trial_end, trial_end=trial_end)
                await self._schedule(tx, ctx.tenant_id, sub, "trial_end", trial_end)
            else:
                sub = await self.start_billing(
                    tx,
                    ctx.tenant_id,
                    sub,
                    active,
                    start,
                    True,
                    cadence,
                    "subscription_create",
                    new_subscription=True,
                    customer=customer,
                )
            if request.term_periods:
                sub = replace(
                    sub, term_end=periods.boundary(sub.anchor, cadence, request.term_periods, zone)
                )
            await tx.subscriptions.insert(ctx.tenant_id, sub)
            await track_mrr(tx, ctx.tenant_id, sub, sub.created_at, created=True)
            await self._record(
                tx,
                ctx,
                write,
                sub,
                "subscription.created",
                "create",
                {"plan": plan.code, "status": sub.status.value},
                now,
            )
            return sub

        return work

    async def start_billing(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        active: ActiveRules,
        start: datetime,
        aligned: bool,
        cadence: periods.Cadence,
        reason: str,
        usage_before: tuple[datetime, datetime] | None = None,
        *,
        new_subscription: bool = False,
        customer: Customer | None = None,
    ) -> Subscription:
        """First period from `start`: a full one, or when `aligned` a stub up to the
        subscription's anchor day or its base subscription's next period end, charged as its
        `first_stub` says; invoiced in advance; its renewal scheduled. `usage_before` bills
        the usage of an earlier span on the same invoice (in arrears), e.g. up to a pause."""
        zone = sub.time_zone
        first = await self._first_period(tx, tenant_id, sub, start, cadence, aligned)
        end = first.period.end
        factor: Factor | None = None
        free = False
        if first.full is not None:
            stub = StubProration(sub.first_stub)
            free = stub == StubProration.NONE
            if stub == StubProration.PRORATE:
                # The stub [start, end) prorated over the full interval that ends at `end`.
                factor = self._factor(
                    active.rules, sub, ProrationRequest(first.full.start, end, start, zone)
                )
        sub = replace(
            sub,
            status=moved(sub.status, Status.ACTIVE),
            anchor=first.anchor,
            period_start=start,
            period_end=end,
            items=tuple(item.billed() for item in sub.items),
        )
        invoice_id = new_id("inv")
        if new_subscription:
            # Created in this transaction: no one else can have begun its first cycle.
            await tx.billing_cycles.record_first(tenant_id, sub.id, start, invoice_id)
            claimed = True
        else:
            claimed = await tx.billing_cycles.claim(tenant_id, sub.id, start, invoice_id)
        if claimed:
            rounding = active.rules.money.rounding_for(sub.currency)
            lines = (
                []
                if free
                else period_fee_lines(sub.items, sub.currency, rounding, (start, end), factor)
            )
            if usage_before is not None and self.usage is not None:
                lines += await usage_lines(
                    tx, tenant_id, sub, active.rules, self.usage, usage_before, invoice_id, start
                )
            if not lines:
                # A free stub: nothing to invoice until the anchor (Stripe's
                # proration_behavior none), and nothing paid that a change could credit; the
                # cycle row still marks the period as begun.
                sub = replace(sub, items=record_paid(sub.items, [], sub.currency, (start, end)))
                await self._schedule(tx, tenant_id, sub, "renew", end)
                return sub
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
                customer=customer,
            )
            sub = after_invoice(sub, invoice)
        await self._schedule(tx, tenant_id, sub, "renew", end)
        return sub

    async def _billing_days(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        request: NewSubscription,
        customer: Customer,
        plan: Plan,
        start: datetime,
    ) -> Subscription:
        """The new subscription with the day its periods align to, kept for its trial end: the
        request's anchor day, else its base subscription's anchor (an add-on, billed in the
        base's zone), else the customer's bill cycle day for monthly and yearly plans."""
        calendar = plan.interval in {"month", "year"}
        if request.anchor_day and not calendar:
            raise InvalidArgument.single(
                "billing_cycle_anchor_day", f"is for monthly and yearly plans, not {plan.interval}"
            )
        if request.base_subscription:
            base = await self._base(tx, tenant_id, request.base_subscription, sub, start)
            return replace(sub, base_subscription_id=base.id, time_zone=base.time_zone)
        day = request.anchor_day or (customer.fields.bill_cycle_day if calendar else 0)
        return replace(sub, anchor_day=day)

    async def _base(
        self, tx: Transaction, tenant_id: str, name: str, sub: Subscription, start: datetime
    ) -> Subscription:
        """The base subscription an add-on aligns to: the same customer's, billing now."""
        base = await tx.subscriptions.get(tenant_id, parse_name(name, "subscriptions", _BASE))
        if base is None:
            raise NotFound(name)
        if base.customer_id != sub.customer_id:
            raise InvalidArgument.single(_BASE, f"{name} is another customer's subscription")
        # A trialing or paused base has no anchor yet: it is set when billing (re)starts.
        if base.status not in {Status.ACTIVE, Status.PAST_DUE}:
            raise InvalidState(
                f"{name} is {base.status.value}; an add-on aligns to a billing subscription",
                "BASE_NOT_BILLING",
            )
        if start < base.created_at:
            raise InvalidState(f"the add-on would start before {name}", "BASE_NOT_BILLING")
        return base

    async def _first_period(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        start: datetime,
        cadence: periods.Cadence,
        aligned: bool,
    ) -> periods.FirstPeriod:
        if not aligned:
            return periods.first_period(start, cadence, sub.time_zone)
        if sub.base_subscription_id is not None:
            base = await tx.subscriptions.get(tenant_id, sub.base_subscription_id)
            # At an add-on's trial end the base may have stopped billing (canceled, paused,
            # still trialing); the add-on then starts its own periods.
            if base is not None and base.status in {Status.ACTIVE, Status.PAST_DUE}:
                return periods.first_period(start, cadence, sub.time_zone, align_to=base.anchor)
            return periods.first_period(start, cadence, sub.time_zone)
        return periods.first_period(start, cadence, sub.time_zone, day_of_month=sub.anchor_day)

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
            # An empty page's filter must exist: another tenant's customer is NOT_FOUND.
            if not rows and customer_id and not await tx.customers.get(ctx.tenant_id, customer_id):
                raise NotFound(customer)
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

    async def customer_entitlements(
        self, ctx: CallContext, customer: str
    ) -> tuple[list[CustomerFeature], str]:
        """What the customer may use now, over its subscriptions that have not ended, and the
        name of the rule set that says so; from the hot cache when it has them (ADR 0066)."""
        customer_id = parse_name(customer, "customers", "customer")
        entry = Entry(
            ctx.tenant_id, f"ent:{customer_id}", (TENANT_SCOPE, customer_scope(customer_id))
        )
        found = await self.cache.get(entry)
        if found.value is not None:
            return decode_entitlements(found.value)
        features, active = await self._entitlements_from_database(ctx, customer, customer_id)
        if found.ticket is not None:
            await self.cache.put(entry, found.ticket, encode_entitlements(features, active.name))
        return features, active.name

    async def _entitlements_from_database(
        self, ctx: CallContext, customer: str, customer_id: str
    ) -> tuple[list[CustomerFeature], ActiveRules]:
        subs: list[Subscription] = []
        async with self._store.read() as tx:
            if await tx.customers.get(ctx.tenant_id, customer_id) is None:
                raise NotFound(customer)
            after: str | None = None
            while True:
                rows = await tx.subscriptions.list_after(
                    ctx.tenant_id, customer_id, after, ENTITLEMENT_READ_ROWS
                )
                subs += rows
                if len(rows) < ENTITLEMENT_READ_ROWS:
                    break
                after = rows[-1].id
        active = await self._rules.active_rules(ctx)
        plans = active.rules.catalog.plans
        grants = [
            Grant(e.feature, e.limit, sub.id)
            for sub in subs
            if sub.status != Status.CANCELED and sub.plan_code in plans
            for e in plans[sub.plan_code].entitlements
        ]
        return combine(grants), active

    async def cancellations(
        self, ctx: CallContext, query: CancellationQuery, page_size: int, page_token: str
    ) -> tuple[list[CancellationRecord], str, dict[str, int]]:
        """A page of cancellations, newest first, its next token, and counts by reason."""
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.cancellations.page(ctx.tenant_id, query, after, limit + 1)
            counts = await tx.cancellations.counts(ctx.tenant_id, query)
        page = rows[:limit]
        token = encode_page_token(page[-1].id) if len(rows) > limit else ""
        return page, token, counts

    # --- changes ------------------------------------------------------------------------

    async def preview_change(self, ctx: CallContext, change: ChangeRequest) -> ChangePlan:
        """The change's plan; with tax on, `taxed` holds its lines with the tax an invoice of
        them now would carry (create_prorations bills them on the next invoice, taxed then)."""
        async with self._store.read() as tx:
            planned = await self._plan_change(tx, ctx.tenant_id, change, lock=False)
            if not planned.lines or not tax_enabled(planned.rules):
                return planned
            sub = planned.subscription
            taxed = await with_tax(
                tx,
                ctx.tenant_id,
                customer_id=sub.customer_id,
                currency=sub.currency,
                lines=planned.lines,
                period=planned.new_period or (planned.at, sub.period_end),
                plan_code=planned.plan.code,
                rules=planned.rules,
                at=planned.new_period[0] if planned.new_period else planned.at,
            )
        return replace(planned, taxed=taxed)

    async def change(self, ctx: CallContext, write: Write[ChangeRequest]) -> ChangeResult:
        work = self.change_work(ctx, write)
        name = write.input.subscription
        ahead = ReadAhead(subscription_id=parse_name(name, "subscriptions", "change.subscription"))
        result = await self._writes.run(ctx, write, CHANGE_CODEC, work, ahead)
        self._work_added()
        return result

    def change_work(
        self, ctx: CallContext, write: Write[ChangeRequest]
    ) -> Callable[[Transaction, datetime], Awaitable[ChangeResult]]:
        """The change as a step of a transaction (ChangeSubscription's, or ApplyContract's)."""
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
                    interval=planned.plan.interval,
                    interval_count=planned.plan.interval_count,
                    pending_change=None,
                    version=sub.version + 1,
                )
                if planned.new_period is not None:
                    updated, invoice_id = await self._restart_period(
                        tx, ctx.tenant_id, planned, updated, planned.new_period
                    )
                elif planned.behavior == "create_prorations":
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
            # Read FOR UPDATE: a concurrent change waited and then met the etag check above,
            # so the write is deferred into the batch (no round trip of its own).
            await tx.subscriptions.update_locked(ctx.tenant_id, updated, sub.version)
            await track_mrr(tx, ctx.tenant_id, updated, planned.at, sub)
            await self._record(
                tx,
                ctx,
                write,
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

        return work

    async def _plan_change(
        self, tx: Transaction, tenant_id: str, change: ChangeRequest, *, lock: bool = True
    ) -> ChangePlan:
        """The change planned against the subscription as stored; with `lock` (a change, not
        a preview) read FOR UPDATE, so its write cannot lose a compare-and-set."""
        subscription_id = parse_name(change.subscription, "subscriptions", "change.subscription")
        quantities = parse_quantities(change.quantities)
        sub = await tx.subscriptions.get(tenant_id, subscription_id, lock=lock)
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
        current = {item.key: item.quantity for item in sub.items if item.price_code}
        same_plan = new_code == sub.plan_code
        keep = {i.key: i.unit_amount for i in sub.items if i.negotiated} if same_plan else None
        new_items = items_for_plan(
            rules, new_plan, sub.currency, at, quantities, keep or {}, carried_quantities=current
        )
        new_cadence = periods.Cadence(new_plan.interval, new_plan.interval_count)
        facts = PlanChangeFacts(
            old_plan.product,
            new_plan.product,
            old_plan.interval,
            new_plan.interval,
            from_plan=old_plan.code,
            to_plan=new_plan.code,
            direction=change_direction(sub.items, cadence_of(sub), new_items, new_cadence),
        )
        timing = rules.catalog.plan_changes.decide(facts)
        if timing is not None and timing.timing == "refused":
            raise PlanChangeRefused(
                sub.name, old_plan.code, new_plan.code, timing.source, timing.message
            )
        rule = rules.proration.decide(facts)
        at_end = timing is not None and timing.timing == "end_of_period"
        if at_end or sub.status == Status.TRIALING:
            return ChangePlan(
                sub, new_plan, new_items, (), at, sub.status != Status.TRIALING, "none", active
            )
        if new_cadence != cadence_of(sub):
            return await self._interval_change(
                tx, tenant_id, active, rule, sub, old_plan, new_plan, new_items, at
            )
        behavior = rule.behavior if rule is not None else "none"
        if rule is None or behavior == "none":
            # Nothing billed: each item stays paid what its key was paid for the period.
            items = carry_paid(sub.items, new_items)
            return ChangePlan(sub, new_plan, items, (), at, False, behavior, active)
        prorated = self._proration(rules, rule, sub, old_plan, new_items, at)
        lines = await self._capped(tx, tenant_id, sub, prorated.lines, at)
        lines = tuple(with_change_plans(lines, old_plan.code, new_plan.code))
        return ChangePlan(sub, new_plan, prorated.items, lines, at, False, behavior, active)

    def _proration(
        self,
        rules: RuleSet,
        rule: ProrationRule,
        sub: Subscription,
        old_plan: Plan,
        new_items: tuple[Item, ...],
        at: datetime,
        *,
        credit_unused: bool | None = None,
        credit_kind: LineKind = LineKind.PRORATION_CREDIT,
    ) -> Proration:
        """The credit for what the change takes away (from what it was actually paid) and
        the charge for what it adds, over the rest of the period from `at`."""
        zone = sub.time_zone
        current = {item.key: item.quantity for item in sub.items if item.price_code}
        repriced = (
            items_for_plan(rules, old_plan, sub.currency, at, {}, {}, carried_quantities=current)
            if rule.credit_basis == "current_price"
            else ()
        )

        def credit_factor(since: datetime | None) -> Factor:
            # Over the span the item's payment covered: the period, or from a later change.
            start = since or sub.period_start
            return self._factor_for(rule, ProrationRequest(start, sub.period_end, at, zone))

        return proration_lines(
            sub.items,
            new_items,
            factor=credit_factor(None),
            credit_factor=credit_factor,
            currency=sub.currency,
            rounding=rules.money.rounding_for(sub.currency),
            period=(at, sub.period_end),
            credit_unused=rule.credit_unused if credit_unused is None else credit_unused,
            credit_basis=rule.credit_basis,
            current_unit_amounts={i.key: i.unit_amount for i in repriced},
            discount_credit=rule.discount_credit,
            credit_kind=credit_kind,
        )

    async def _capped(
        self,
        tx: Transaction,
        tenant_id: str,
        sub: Subscription,
        lines: tuple[Line, ...],
        at: datetime,
    ) -> tuple[Line, ...]:
        """`lines` with a repair line taking back what their credits ask beyond what is
        still creditable for the period (credit notes, earlier credits)."""
        if not any(line.kind in CREDIT_KINDS for line in lines):
            return lines
        period = (sub.period_start, sub.period_end)
        invoices: list[PeriodInvoice] = []
        after: str | None = None
        while True:  # a subscription's invoices, a page at a time
            # Only the invoices reaching into this period: a change must not read the
            # subscription's whole history (it grew by an invoice a period).
            page = await tx.invoices.list_after(
                tenant_id, None, sub.id, after, INVOICES_PAGE, ending_after=sub.period_start
            )
            invoices += [
                PeriodInvoice(
                    as_priced(inv.lines),  # fees as priced, as the credits are
                    inv.settlement.total_minor,
                    inv.credited_minor,
                    inv.status == InvoiceStatus.VOID,
                )
                for inv in page
                if inv.period_end > sub.period_start
            ]
            if len(page) < INVOICES_PAGE:
                break
            after = page[-1].id
        pending = await tx.pending_items.peek(tenant_id, sub.id)
        creditable = creditable_minor(invoices, pending, sub.currency, period)
        repair = repair_line(lines, creditable, sub.currency, (at, sub.period_end))
        return lines if repair is None else (*lines, repair)

    async def _interval_change(
        self,
        tx: Transaction,
        tenant_id: str,
        active: ActiveRules,
        rule: ProrationRule | None,
        sub: Subscription,
        old_plan: Plan,
        new_plan: Plan,
        new_items: tuple[Item, ...],
        at: datetime,
    ) -> ChangePlan:
        """A change of billing interval taking effect now, as Stripe does it: the billing
        cycle restarts at the change, the new plan's full period from then is charged, and
        the unused rest of the old period is credited as the proration rule says (none with
        `behavior: none` or `credit_unused: false`). Both go on one invoice at once."""
        rules = active.rules
        cadence = periods.Cadence(new_plan.interval, new_plan.interval_count)
        end = periods.boundary(at, cadence, 1, sub.time_zone)
        rounding = rules.money.rounding_for(sub.currency)
        credits: tuple[Line, ...] = ()
        if rule is not None and rule.behavior != "none" and rule.credit_unused:
            prorated = self._proration(rules, rule, sub, old_plan, (), at)
            credits = await self._capped(tx, tenant_id, sub, prorated.lines, at)
        items = _billed_as_new(new_items)
        charges = period_fee_lines(items, sub.currency, rounding, (at, end))
        behavior = rule.behavior if rule is not None else "none"
        lines = tuple(with_change_plans((*credits, *charges), old_plan.code, new_plan.code))
        return ChangePlan(sub, new_plan, items, lines, at, False, behavior, active, (at, end))

    async def _restart_period(
        self,
        tx: Transaction,
        tenant_id: str,
        planned: ChangePlan,
        updated: Subscription,
        new_period: tuple[datetime, datetime],
    ) -> tuple[Subscription, str]:
        """Apply an interval change: the new period from the change, its invoice (the
        planned lines, and the usage of the cut-short old period in arrears), its renewal."""
        start, end = new_period
        old = planned.subscription
        updated = replace(updated, anchor=start, period_start=start, period_end=end)
        invoice_id = new_id("inv")
        # The subscription's compare-and-set makes the change happen once; the cycle row
        # records which invoice billed the new period (a change at the old period's very
        # start finds that start's row taken, which is harmless).
        await tx.billing_cycles.claim(tenant_id, old.id, start, invoice_id)
        lines = list(planned.lines)
        if self.usage is not None and start > old.period_start:
            lines += await usage_lines(
                tx,
                tenant_id,
                old,
                planned.rules.rules,
                self.usage,
                (old.period_start, start),
                invoice_id,
                start,
            )
        invoice = await issue_invoice(
            tx,
            tenant_id,
            updated,
            reason="subscription_update",
            period=(start, end),
            lines=lines,
            rules=planned.rules,
            at=start,
            invoice_id=invoice_id,
        )
        await self._schedule(tx, tenant_id, updated, "renew", end)
        return after_invoice(updated, invoice), invoice.id

    # --- cancel, reactivate, pause, resume -------------------------------------------------

    async def cancel(self, ctx: CallContext, write: Write[Cancellation]) -> Subscription:
        result = await self._writes.run(
            ctx, write, SUBSCRIPTION_CODEC, self.cancel_work(ctx, write)
        )
        self._work_added()
        return result

    def cancel_work(
        self, ctx: CallContext, write: Write[Cancellation]
    ) -> Callable[[Transaction, datetime], Awaitable[Subscription]]:
        """The cancel as a step of a transaction (CancelSubscription's, or ApplyContract's)."""
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
                updated = ending_at_period_end(sub)
            else:
                if request.at is None:
                    raise InvalidArgument.single("at", "is required to cancel at a time")
                if request.at <= at:
                    raise InvalidArgument.single("at", "must be in the future")
                updated = replace(
                    sub,
                    cancel_at=request.at,
                    cancel_at_period_end=request.at == sub.period_end,
                    version=sub.version + 1,
                )
                await self._schedule(tx, ctx.tenant_id, updated, "cancel", request.at)
            leaving_mrr = await tx.mrr.position(ctx.tenant_id, sub.id)  # before the save moves it
            await self._save(tx, ctx.tenant_id, updated, sub, at)
            await tx.cancellations.add(
                CancellationRecord(
                    new_id("can"),
                    ctx.tenant_id,
                    sub.id,
                    sub.customer_id,
                    request.reason_code,
                    request.feedback,
                    request.mode,
                    requested_at=at,
                    effective_at=updated.cancel_at or updated.period_end,
                    currency=sub.currency,
                    mrr_minor=leaving_mrr,
                )
            )
            await self._record(
                tx,
                ctx,
                write,
                updated,
                "subscription.updated",
                "cancel",
                {
                    "mode": request.mode,
                    "reason_code": request.reason_code,
                    "feedback": request.feedback,
                },
                now,
            )
            return updated

        return work

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
            facts = _own_plan_facts(plan)
            rule = rules.proration.decide(facts)
            if rule is not None and rule.credit_unused and rule.behavior != "none":
                credits = self._proration(
                    rules, rule, sub, plan, (), at, credit_kind=LineKind.CANCELLATION_CREDIT
                )
                lines = list(await self._capped(tx, tenant_id, sub, credits.lines, at))
        ended = replace(
            sub,
            status=moved(sub.status, Status.CANCELED),
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
            await self._save(tx, ctx.tenant_id, updated, sub, now)
            at = await self._time.now(tx, ctx.tenant_id, sub.clock_id)
            await tx.cancellations.withdraw(ctx.tenant_id, sub.id, at)
            await self._record(
                tx, ctx, write, updated, "subscription.updated", "reactivate", {}, now
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
            updated = replace(
                sub, status=moved(sub.status, Status.PAUSED), paused_at=at, version=sub.version + 1
            )
            await self._save(tx, ctx.tenant_id, updated, sub, at)
            await self._record(tx, ctx, write, updated, "subscription.paused", "pause", {}, now)
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
                False,
                cadence_of(sub),
                "subscription_resume",
                usage_before=before,
            )
            await self._save(tx, ctx.tenant_id, resumed, sub, at)
            await self._record(tx, ctx, write, resumed, "subscription.resumed", "resume", {}, now)
            return resumed

        result = await self._writes.run(ctx, write, SUBSCRIPTION_CODEC, work)
        self._work_added()
        return result

    # --- helpers ----------------------------------------------------------------------------

    def _factor(self, rules: RuleSet, sub: Subscription, request: ProrationRequest) -> Factor:
        plan = rules.catalog.plans.get(sub.plan_code)
        rule = None
        if plan is not None:
            rule = rules.proration.decide(_own_plan_facts(plan))
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
        self, tx: Transaction, tenant_id: str, sub: Subscription, before: Subscription, at: datetime
    ) -> None:
        """Write `sub` over `before` (compare-and-set on its version) and its MRR change."""
        if not await tx.subscriptions.update(tenant_id, sub, before.version):
            raise EtagMismatch(sub.name, f'W/"{before.version}"', "changed concurrently")
        await track_mrr(tx, tenant_id, sub, at, before)

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
        write: Write[Any],
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
            audit_of(
                ctx,
                write,
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


def with_plan_cadence(sub: Subscription, rules: RuleSet, at: datetime) -> Subscription:
    """A change that waited for the period end (`at`) to a plan of another billing interval:
    the new interval starts there, so the anchor moves to `at`."""
    plan = rules.catalog.plans.get(sub.plan_code)
    if plan is None or (plan.interval, plan.interval_count) == (sub.interval, sub.interval_count):
        return sub
    return replace(sub, interval=plan.interval, interval_count=plan.interval_count, anchor=at)


def _own_plan_facts(plan: Plan) -> PlanChangeFacts:
    """The facts outside a change (a first stub, a cancellation): the subscription's plan on
    both sides and no direction, so only proration cases without `direction` apply."""
    return PlanChangeFacts(
        plan.product,
        plan.product,
        plan.interval,
        plan.interval,
        from_plan=plan.code,
        to_plan=plan.code,
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
    elif request.anchor_day and request.base_subscription:
        v.add("billing_cycle_anchor_day", "an add-on aligns to its base_subscription instead")
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
        "anchor_day": sub.anchor_day,
        "first_stub": sub.first_stub,
        "base_subscription_id": sub.base_subscription_id,
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
        anchor_day=d.get("anchor_day", 0),
        first_stub=d.get("first_stub", StubProration.PRORATE.value),
        base_subscription_id=d.get("base_subscription_id"),
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
