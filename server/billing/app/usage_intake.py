"""Checking incoming usage events: the metric is known, the event names exactly one
metering subscription (or a customer with exactly one), its time is within bounds on that
subscription's clock and its number field reads as one. One resolver per batch caches the
subscriptions, clocks and plan prices the batch needs, read in as few queries as it can."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from billing.app.billing_time import BillingTime
from billing.app.metered import metered_prices, metric_spec, prices_amounts
from billing.app.ports import Transaction
from billing.domain.metering import Event, MetricSpec, number
from billing.domain.money import QUANTITY_MAX
from billing.domain.names import is_id
from billing.domain.rollups import Contribution, contribution, definition
from billing.domain.subscriptions import Status, Subscription
from billing.rules.model import RuleSet

EVENT_ID_MAX = 128
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the caller and us
CUSTOMER_PAGE = 500  # subscriptions read at a time when an event names only its customer


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


def usage_value(event: Event, field: str) -> Decimal:
    """The event's number field, in the one decimal grammar and within QUANTITY_MAX, so a
    period's sum stays countable (ValueError with the reason otherwise)."""
    value = number(event, field)
    if abs(value) > QUANTITY_MAX:
        raise ValueError(f"property {field!r} must be at most {QUANTITY_MAX:,} in size")
    return value


def negative_amount(field: str, metric: str) -> str:
    # A percentage fee is charged on a transaction; a refund is no transaction.
    return (
        f"property {field!r} must not be negative: {metric!r} is priced as a percentage of"
        " each transaction's amount"
    )


class EventResolver:
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
                value = usage_value(event, metric.field)
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
