"""Usage use cases: ingest events (batch and stream), correct them, report the open period.

Ingestion answers each event on its own (the documented exception to "no partial write"):
accepted, duplicate (same id and body: counted once) or refused with a reason; a batch is
written with one statement. Raises InvalidArgument for a malformed request as a whole.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.ports import Store, StoredEvent, Transaction
from billing.app.records import AuditRecord
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.metering import (
    Event,
    MetricSpec,
    aggregate,
    amounts,
    effective,
    groups,
    number,
)
from billing.domain.money import Money, round_to_minor
from billing.domain.names import is_id, parse_name
from billing.domain.rollups import (
    BUCKET,
    ROLLED_UP,
    Contribution,
    Group,
    answers,
    bucket_of,
    contribution,
    definition,
    edges,
    full_buckets,
    quantities,
    stale_buckets,
)
from billing.domain.subscriptions import Status, Subscription
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.registry import Engines
from billing.rules.model import Metric, Price, RuleSet

BATCH_EVENTS_MAX = 10_000  # one request; larger loads use StreamUsage
STREAM_CHUNK_EVENTS = 1_000  # written per statement when streaming
EVENT_ID_MAX = 128
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the caller and us
CUSTOMER_PAGE = 500  # subscriptions read at a time when an event names only its customer

ACCEPTED, DUPLICATE, REFUSED = "accepted", "duplicate", "refused"
# Models priced on each transaction's amount rather than on a quantity.
AMOUNT_MODELS = frozenset({"percentage", "graduated_percentage"})


@dataclass(frozen=True)
class IncomingEvent:
    id: str
    subscription: str
    customer: str
    metric: str
    timestamp: datetime | None
    properties: Mapping[str, str] = field(default_factory=dict)

    def body_hash(self) -> bytes:
        body = {
            "subscription": self.subscription,
            "customer": self.customer,
            "metric": self.metric,
            "timestamp": self.timestamp.isoformat() if self.timestamp else None,
            "properties": dict(sorted(self.properties.items())),
        }
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).digest()


@dataclass(frozen=True)
class Outcome:
    index: int
    id: str
    outcome: str
    reason: str = ""


@dataclass(frozen=True)
class MeteredPrice:
    price: Price
    spec: MetricSpec
    group: str = ""  # "region=eu" for one group of a grouped metric

    @property
    def key(self) -> str:
        """What its billed usage is recorded under: the price code, and the group if any."""
        return f"{self.price.code}#{self.group}" if self.group else self.price.code


def expand_groups(
    metered: Sequence[MeteredPrice], events: Sequence[Event], start: datetime, end: datetime
) -> list[MeteredPrice]:
    """A grouped metric becomes one metered price per group seen in the period, each a
    filter on the group's values, so each group is priced (and billed) on its own."""
    expanded: list[MeteredPrice] = []
    for m in metered:
        if not m.spec.group_by:
            expanded.append(m)
            continue
        expanded += [narrow(m, values) for values in sorted(groups(m.spec, events, start, end))]
    return expanded


def narrow(m: MeteredPrice, values: Group) -> MeteredPrice:
    """A grouped metered price narrowed to one group: a filter on the group's values."""
    chosen = dict(zip(m.spec.group_by, values, strict=True))
    spec = replace(m.spec, filters={**(m.spec.filters or {}), **chosen}, group_by=())
    label = ",".join(f"{k}={v}" for k, v in chosen.items())
    return MeteredPrice(m.price, spec, label)


def metered_for_key(metered: Sequence[MeteredPrice], key: str) -> MeteredPrice | None:
    """The metered price (narrowed to its group) that billed usage was recorded under."""
    code, _, label = key.partition("#")
    for m in metered:
        if m.price.code != code:
            continue
        if not label:
            return m
        chosen = dict(pair.split("=", 1) for pair in label.split(","))
        spec = replace(m.spec, filters={**(m.spec.filters or {}), **chosen}, group_by=())
        return MeteredPrice(m.price, spec, label)
    return None


@dataclass(frozen=True)
class MetricUsage:
    metric: str
    price_code: str
    quantity: Decimal
    amount: Money
    group: str = ""
    unrounded: Decimal = Decimal(0)
    steps: tuple[str, ...] = ()  # how it was priced: tiers, packages


@dataclass(frozen=True)
class CurrentUsage:
    subscription: Subscription
    metrics: tuple[MetricUsage, ...]
    total: Money
    rules: ActiveRules


def metric_spec(metric: Metric) -> MetricSpec:
    return MetricSpec(
        metric.code, metric.aggregation, metric.field, metric.filters, metric.group_by
    )


def answered_by_rollups(m: MeteredPrice) -> bool:
    """Whether the quantity alone prices it, and a rollup can give that quantity."""
    return m.spec.aggregation in ROLLED_UP and m.price.model not in AMOUNT_MODELS


def metered_prices(rules: RuleSet, sub: Subscription, at: datetime) -> list[MeteredPrice]:
    """The plan's prices that bill a metric, in force at `at`, in the subscription's currency."""
    plan = rules.catalog.plans.get(sub.plan_code)
    if plan is None:
        return []
    found: list[MeteredPrice] = []
    for entry in plan.prices:
        if entry.currency != sub.currency or entry.price_code is None:
            continue
        price = rules.price_in_force(entry.price_code, at)
        if price is None or price.metric is None:
            continue
        found.append(MeteredPrice(price, metric_spec(rules.metering.metrics[price.metric])))
    return found


class UsageUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        engines: Engines,
        time: BillingTime,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._engines = engines
        self._time = time

    # --- ingestion ------------------------------------------------------------------------

    async def ingest(
        self, ctx: CallContext, events: Sequence[IncomingEvent], first_index: int = 0
    ) -> list[Outcome]:
        if len(events) > BATCH_EVENTS_MAX:
            raise InvalidArgument.single(
                "events", f"at most {BATCH_EVENTS_MAX} per call; stream larger loads"
            )
        if not events:
            return []
        async with self._store.write(None) as tx:
            return await self._ingest(tx, ctx, events, first_index)

    async def ingest_stream(
        self, ctx: CallContext, chunks: AsyncIterator[Sequence[IncomingEvent]]
    ) -> list[Outcome]:
        outcomes: list[Outcome] = []
        buffer: list[IncomingEvent] = []
        async for chunk in chunks:
            buffer.extend(chunk)
            while len(buffer) >= STREAM_CHUNK_EVENTS:
                batch, buffer = buffer[:STREAM_CHUNK_EVENTS], buffer[STREAM_CHUNK_EVENTS:]
                outcomes += await self.ingest(ctx, batch, len(outcomes))
        if buffer:
            outcomes += await self.ingest(ctx, buffer, len(outcomes))
        return outcomes

    async def _ingest(
        self, tx: Transaction, ctx: CallContext, events: Sequence[IncomingEvent], first: int
    ) -> list[Outcome]:
        active = await self._rules.active_rules_in(tx, ctx.tenant_id)
        rules = active.rules
        resolver = _Resolver(tx, ctx.tenant_id, rules, self._time)
        await resolver.prefetch(events)
        outcomes: dict[int, Outcome] = {}
        to_store: dict[str, tuple[int, StoredEvent]] = {}
        seen_in_batch: dict[str, bytes] = {}
        for offset, incoming in enumerate(events):
            index = first + offset
            digest = incoming.body_hash()
            if incoming.id in seen_in_batch:
                same = seen_in_batch[incoming.id] == digest
                outcomes[index] = Outcome(
                    index,
                    incoming.id,
                    DUPLICATE if same else REFUSED,
                    "" if same else "id used twice with different bodies",
                )
                continue
            seen_in_batch[incoming.id] = digest
            reason, event = await resolver.check(incoming)
            if event is None:
                outcomes[index] = Outcome(index, incoming.id, REFUSED, reason)
                continue
            to_store[incoming.id] = (
                index,
                StoredEvent(event, digest, resolver.contribution(event)),
            )
        inserted = await tx.usage.insert_batch(ctx.tenant_id, [s for _, s in to_store.values()])
        conflicts = [event_id for event_id in to_store if event_id not in inserted]
        stored_hashes = await tx.usage.body_hashes(ctx.tenant_id, conflicts)
        for event_id, (index, stored) in to_store.items():
            if event_id in inserted:
                outcomes[index] = Outcome(index, event_id, ACCEPTED)
            elif stored_hashes.get(event_id) == stored.body_hash:
                outcomes[index] = Outcome(index, event_id, DUPLICATE)
            else:
                outcomes[index] = Outcome(
                    index, event_id, REFUSED, "id already used for an event with another body"
                )
        return [outcomes[i] for i in sorted(outcomes)]

    # --- corrections ------------------------------------------------------------------------

    async def correct(
        self, ctx: CallContext, write: Write[tuple[str, str, Mapping[str, str]]]
    ) -> Event:
        """`write.input` is (event id, "void" or "amend", new properties)."""
        event_id, kind, properties = write.input

        async def work(tx: Transaction, now: datetime) -> Event:
            # Locked: corrections of one event take turns, each seeing the ones before it.
            original = await tx.usage.get(ctx.tenant_id, event_id, lock=True)
            if original is None or original.corrects is not None:
                raise NotFound(f"usage event {event_id!r}")
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            metric = active.rules.metering.metrics.get(original.metric)
            spec = metric_spec(metric) if metric is not None else None
            sub = await tx.subscriptions.get(ctx.tenant_id, original.subscription_id)
            if kind == "amend" and spec is not None:
                priced = sub is not None and prices_amounts(active.rules, sub, original.metric)
                _check_amended(spec, original, properties, priced)
            received = await self._time.now(tx, ctx.tenant_id, sub.clock_id if sub else None)
            correction = Event(
                id=new_id("cor"),
                subscription_id=original.subscription_id,
                metric=original.metric,
                timestamp=original.timestamp,
                properties=dict(properties) if kind == "amend" else {},
                corrects=original.id,
                correction=kind,
                received_at=received,
            )
            history = [original, *await tx.usage.corrections_of(ctx.tenant_id, original.id)]
            digest = hashlib.sha256(f"{kind}:{event_id}:{sorted(properties.items())}".encode())
            await tx.usage.insert_batch(ctx.tenant_id, [StoredEvent(correction, digest.digest())])
            removed, added = _rollup_change(spec, history, correction)
            if removed != added:
                await tx.usage.adjust_rollup(
                    ctx.tenant_id, original.subscription_id, original.metric, removed, added
                )
            await tx.audit.add(
                AuditRecord(
                    new_id("aud"),
                    ctx.tenant_id,
                    ctx.actor,
                    ctx.method,
                    write.request_id,
                    f"usageEvents/{event_id}",
                    kind,
                    {"properties": dict(properties)},
                    now,
                )
            )
            return correction

        return await self._writes.run(ctx, write, EVENT_CODEC, work)

    # --- the open period ------------------------------------------------------------------------

    async def current(self, ctx: CallContext, name: str) -> CurrentUsage:
        subscription_id = parse_name(name, "subscriptions", "subscription")
        async with self._store.read() as tx:
            sub = await tx.subscriptions.get(ctx.tenant_id, subscription_id)
            if sub is None:
                raise NotFound(name)
            active = await self._rules.active_rules_in(tx, ctx.tenant_id)
            metered = metered_prices(active.rules, sub, sub.period_start)
            period = (sub.period_start, sub.period_end)
            # A dashboard reads this often: count, sum and max come from the daily rollups
            # (O(days) rows); the rest, and metrics whose rows were made under another
            # definition, from the events.
            rolled: dict[str, dict[Group, Decimal]] = {}
            for m in metered:
                if answered_by_rollups(m):
                    found = await _from_rollups(tx, ctx.tenant_id, sub.id, m.spec, period)
                    if found is not None:
                        rolled[m.price.code] = found
            rest = [m.spec.code for m in metered if m.price.code not in rolled]
            events = await tx.usage.in_period(ctx.tenant_id, sub.id, rest, *period) if rest else []
        usages: list[MetricUsage] = []
        for m in metered:
            if m.price.code in rolled:
                usages += [
                    self.price_quantity(active.rules, narrow(m, g) if g else m, quantity)
                    for g, quantity in sorted(rolled[m.price.code].items())
                ]
            else:
                usages += [
                    self.price_usage(active.rules, g, events, *period)
                    for g in expand_groups([m], events, *period)
                ]
        total = Money(sub.currency, sum(u.amount.amount_minor for u in usages))
        return CurrentUsage(sub, tuple(usages), total, active)

    def price_usage(
        self,
        rules: RuleSet,
        metered: MeteredPrice,
        events: Sequence[Event],
        start: datetime,
        end: datetime,
    ) -> MetricUsage:
        quantity = aggregate(metered.spec, events, start, end)
        transactions = (
            amounts(metered.spec, events, start, end)
            if metered.price.model in AMOUNT_MODELS
            else ()
        )
        return self.price_quantity(rules, metered, quantity, transactions)

    def price_quantity(
        self,
        rules: RuleSet,
        metered: MeteredPrice,
        quantity: Decimal,
        transactions: tuple[Decimal, ...] = (),
    ) -> MetricUsage:
        engine: PricingModel = self._engines.get("pricing_model", metered.price.model)
        priced = engine.price(PricingRequest(metered.price, quantity, transactions))
        rounding = rules.money.rounding_for(metered.price.currency)
        amount = round_to_minor(priced.amount, metered.price.currency, rounding)
        steps = tuple(
            f"{s.description}: {s.quantity} x {s.unit_amount} + {s.flat_amount} = {s.amount}"
            for s in priced.steps
        )
        return MetricUsage(
            metered.spec.code,
            metered.price.code,
            quantity,
            amount,
            metered.group,
            priced.amount,
            steps,
        )


async def _from_rollups(
    tx: Transaction,
    tenant_id: str,
    subscription_id: str,
    spec: MetricSpec,
    period: tuple[datetime, datetime],
) -> dict[Group, Decimal] | None:
    """The period's quantity per group from the rows of its whole days and the events of its
    partial ones; None when a row was made under another definition of the metric."""
    rows = await tx.usage.rollups(tenant_id, subscription_id, spec.code, full_buckets(*period))
    if not answers(definition(spec), rows):
        return None
    stale = stale_buckets(spec, rows)
    ranges = [*edges(*period), *((b, b + BUCKET) for b in sorted(stale))]
    events = await tx.usage.in_ranges(tenant_id, subscription_id, spec.code, ranges)
    return quantities(spec, [r for r in rows if r.bucket not in stale], events, ranges)


def _check_amended(
    spec: MetricSpec, original: Event, properties: Mapping[str, str], amounts_priced: bool
) -> None:
    """An amendment must leave a number where the metric reads one, as ingestion checks,
    and not a negative one where that number is a transaction priced as a percentage."""
    if not spec.field or spec.aggregation in {"count", "unique_count"}:
        return
    try:
        value = number(replace(original, properties=dict(properties)), spec.field)
    except ValueError as exc:
        raise InvalidArgument.single("properties", str(exc)) from None
    if value < 0 and amounts_priced:
        raise InvalidArgument.single("properties", negative_amount(spec.field, spec.code))


def prices_amounts(rules: RuleSet, sub: Subscription, metric: str) -> bool:
    """Whether the subscription prices `metric` by transaction amounts (percentages)."""
    return any(
        m.spec.code == metric and m.price.model in AMOUNT_MODELS
        for m in metered_prices(rules, sub, sub.period_start)
    )


def negative_amount(field: str, metric: str) -> str:
    # A percentage fee is charged on a transaction; a refund is no transaction.
    return (
        f"property {field!r} must not be negative: {metric!r} is priced as a percentage of"
        " each transaction's amount"
    )


def _rollup_change(
    spec: MetricSpec | None, history: Sequence[Event], correction: Event
) -> tuple[Contribution | None, Contribution | None]:
    """What the correction takes out of its event's day and puts back, under the metric's
    current definition: the event as corrected before, and after. A metric gone from the
    rules, or a value that no longer reads as a number, marks the day as unknown instead
    (a row of no definition), so its periods are read from the events."""
    unknown = Contribution(bucket_of(correction.timestamp), "", None, None)
    if spec is None:
        return unknown, None
    defined_as = definition(spec)
    before, after = effective(history), effective([*history, correction])
    try:
        return (
            contribution(spec, defined_as, before[0]) if before else None,
            contribution(spec, defined_as, after[0]) if after else None,
        )
    except ValueError:
        return unknown, None


class _Resolver:
    """Checks an event and finds its subscription, caching lookups within one batch."""

    def __init__(self, tx: Transaction, tenant_id: str, rules: RuleSet, time: BillingTime) -> None:
        self._tx = tx
        self._tenant_id = tenant_id
        self._rules = rules
        self._time = time
        self._subs: dict[str, Subscription | None] = {}
        self._by_customer: dict[str, list[Subscription]] = {}
        self._now: dict[str | None, datetime] = {}
        self._meters_metric: dict[tuple[str, str], bool] = {}
        self._specs: dict[str, tuple[MetricSpec, str]] = {}

    async def prefetch(self, events: Sequence[IncomingEvent]) -> None:
        """Read every subscription the batch names in one round trip, not one per id."""
        wanted: set[str] = set()
        for e in events:
            head, _, sid = e.subscription.partition("/")
            if head == "subscriptions" and is_id(sid, "sub") and sid not in self._subs:
                wanted.add(sid)
        if wanted:
            found = await self._tx.subscriptions.get_many(self._tenant_id, sorted(wanted))
            self._subs.update({sid: found.get(sid) for sid in wanted})

    def contribution(self, event: Event) -> Contribution:
        """What the (checked) event adds to its day's rollup."""
        if event.metric not in self._specs:
            spec = metric_spec(self._rules.metering.metrics[event.metric])
            self._specs[event.metric] = (spec, definition(spec))
        spec, defined_as = self._specs[event.metric]
        return contribution(spec, defined_as, event)

    async def check(self, e: IncomingEvent) -> tuple[str, Event | None]:
        if not e.id or len(e.id) > EVENT_ID_MAX:
            return f"id must be 1 to {EVENT_ID_MAX} characters", None
        metric = self._rules.metering.metrics.get(e.metric)
        if metric is None:
            return f"unknown metric {e.metric!r}", None
        if e.timestamp is None:
            return "timestamp is required", None
        sub, reason = await self._subscription(e)
        if sub is None:
            return reason, None
        now = await self._clock_now(sub)
        if e.timestamp > now + FUTURE_TOLERANCE:
            return f"timestamp {e.timestamp.isoformat()} is in the future", None
        lateness = self._rules.metering.max_lateness
        if e.timestamp < now - lateness:
            return f"timestamp is older than max_lateness ({lateness})", None
        # Received "now" on the subscription's own clock, the clock its invoices are dated by,
        # so "arrived after the period was billed" compares like with like.
        event = Event(e.id, sub.id, e.metric, e.timestamp, dict(e.properties), received_at=now)
        if metric.field and metric.aggregation not in {"count", "unique_count"}:
            try:
                value = number(event, metric.field)
            except ValueError as exc:
                return str(exc), None
            if value < 0 and prices_amounts(self._rules, sub, e.metric):
                return negative_amount(metric.field, e.metric), None
        return "", event

    async def _subscription(self, e: IncomingEvent) -> tuple[Subscription | None, str]:
        if e.subscription:
            head, _, sid = e.subscription.partition("/")
            if head != "subscriptions" or not is_id(sid, "sub"):
                return None, f"subscription {e.subscription!r} is not subscriptions/sub_<ULID>"
            if sid not in self._subs:
                self._subs[sid] = await self._tx.subscriptions.get(self._tenant_id, sid)
            sub = self._subs[sid]
            if sub is None:
                return None, f"no subscription {e.subscription}"
            if not self._meters(sub, e.metric):
                return None, f"{e.subscription} does not meter {e.metric!r}"
            return sub, ""
        head, _, cid = e.customer.partition("/")
        if head != "customers" or not is_id(cid, "cus"):
            return None, "give a subscription, or a customer as customers/cus_<ULID>"
        if cid not in self._by_customer:
            self._by_customer[cid] = await self._customer_subscriptions(cid)
        candidates = [s for s in self._by_customer[cid] if self._meters(s, e.metric)]
        if len(candidates) != 1:
            return None, (
                f"{e.customer} has {len(candidates)} subscriptions metering {e.metric!r};"
                " name the subscription"
            )
        return candidates[0], ""

    async def _customer_subscriptions(self, customer_id: str) -> list[Subscription]:
        """All the customer's subscriptions, page by page."""
        subs: list[Subscription] = []
        while True:
            after = subs[-1].id if subs else None
            page = await self._tx.subscriptions.list_after(
                self._tenant_id, customer_id, after, CUSTOMER_PAGE
            )
            subs += page
            if len(page) < CUSTOMER_PAGE:
                return subs

    def _meters(self, sub: Subscription, metric: str) -> bool:
        # Asked for every event: the plan's prices are looked up once per batch.
        key = (sub.id, metric)
        if key not in self._meters_metric:
            self._meters_metric[key] = not (
                sub.status == Status.CANCELED and sub.canceled_at is None
            ) and any(
                m.spec.code == metric for m in metered_prices(self._rules, sub, sub.period_start)
            )
        return self._meters_metric[key]

    async def _clock_now(self, sub: Subscription) -> datetime:
        if sub.clock_id not in self._now:
            self._now[sub.clock_id] = await self._time.now(self._tx, self._tenant_id, sub.clock_id)
        return self._now[sub.clock_id]


class _EventCodec:
    def encode(self, result: Event) -> bytes:
        return json.dumps(
            {
                "id": result.id,
                "subscription_id": result.subscription_id,
                "metric": result.metric,
                "timestamp": result.timestamp.isoformat(),
                "properties": dict(result.properties),
                "corrects": result.corrects,
                "correction": result.correction,
                "received_at": result.received_at.isoformat() if result.received_at else None,
            }
        ).encode()

    def decode(self, data: bytes) -> Event:
        d = json.loads(data)
        return Event(
            d["id"],
            d["subscription_id"],
            d["metric"],
            datetime.fromisoformat(d["timestamp"]),
            d["properties"],
            d["corrects"],
            d["correction"],
            datetime.fromisoformat(d["received_at"]) if d["received_at"] else None,
        )


EVENT_CODEC = _EventCodec()
