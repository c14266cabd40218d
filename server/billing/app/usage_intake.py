"""Checking incoming usage events: the metric is known, the event names exactly one
metering subscription (or a customer with exactly one), its time is within bounds on that
subscription's clock and its number field reads as one. One resolver per batch caches the
subscriptions, clocks and plan prices the batch needs, read in as few queries as it can.

Ingestion runs this for every event (tens of thousands a second), so the per-event work is
kept to what depends on the event: everything that depends only on its subscription (or
customer) and metric is worked out once per batch (`_Target`), and the types made per event
are tuples, not frozen dataclasses (a third of the cost to build)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from json.encoder import encode_basestring_ascii
from types import MappingProxyType
from typing import NamedTuple

from billing.app.billing_time import BillingTime
from billing.app.metered import metric_spec, priced_metrics
from billing.app.ports import StoredEvent, Transaction
from billing.domain.metering import Event, MetricSpec, number
from billing.domain.money import QUANTITY_MAX
from billing.domain.names import is_id
from billing.domain.rollups import (
    Contribution,
    bucket_key,
    bucket_of,
    contribution,
    definition,
    valued_field,
)
from billing.domain.subscriptions import MeteredSubscription, Status
from billing.rules.model import RuleSet

EVENT_ID_MAX = 128
FUTURE_TOLERANCE = timedelta(minutes=5)  # clock skew between the caller and us
CUSTOMER_PAGE = 500  # subscriptions read at a time when an event names only its customer
NO_PROPERTIES: Mapping[str, str] = MappingProxyType({})


class IncomingEvent(NamedTuple):
    id: str
    subscription: str
    customer: str
    metric: str
    timestamp: datetime | None
    properties: Mapping[str, str] = NO_PROPERTIES
    timestamp_text: str = ""  # timestamp.isoformat() when the edge made it ("": not made)

    def at_text(self) -> str:
        """The timestamp's isoformat() ("" without a timestamp)."""
        at = self.timestamp
        return self.timestamp_text or ("" if at is None else at.isoformat())

    def body_hash(self) -> bytes:
        """SHA-256 of the body as `json.dumps(body, sort_keys=True)` writes it (the stored
        hashes were made so; a re-sent event must hash the same), written out directly:
        keys in sorted order, default separators, strings escaped as json does."""
        return _body_hash(_body_head(self), self.at_text())


def _body_head(e: IncomingEvent) -> str:
    """The body's text up to its timestamp's value (the last key in sorted order)."""
    text = encode_basestring_ascii
    props = e.properties
    if props:
        pairs = ", ".join(f"{text(k)}: {text(props[k])}" for k in sorted(props))
        properties = f"{{{pairs}}}"
    else:
        properties = "{}"
    return (
        f'{{"customer": {text(e.customer)}, "metric": {text(e.metric)},'
        f' "properties": {properties}, "subscription": {text(e.subscription)}, "timestamp": '
    )


def _body_hash(head: str, at_text: str) -> bytes:
    """The hash of `head` closed by the timestamp's text ("": no timestamp, null)."""
    tail = f'"{at_text}"}}' if at_text else "null}"
    return hashlib.sha256((head + tail).encode()).digest()


class Outcome(NamedTuple):
    position: int  # in the call's events (a stream's: counted across its messages)
    id: str
    outcome: str
    reason: str = ""


class BodyHasher:
    """IncomingEvent.body_hash for a batch's events, and each one's timestamp text (the COPY
    writes the same text). The body of an event without properties is a head that depends
    only on its customer, metric and subscription, made once per batch, and its timestamp."""

    def __init__(self) -> None:
        self._heads: dict[tuple[str, str, str], str] = {}

    def __call__(self, e: IncomingEvent) -> tuple[bytes, str]:
        """(the body hash, timestamp.isoformat() or "" without a timestamp)."""
        at_text = e.at_text()
        if e.properties:
            return _body_hash(_body_head(e), at_text), at_text
        key = (e.customer, e.metric, e.subscription)
        head = self._heads.get(key)
        if head is None:
            head = self._heads[key] = _body_head(e)
        return _body_hash(head, at_text), at_text


@dataclass(frozen=True)
class _Target:
    """What events of one subscription (or customer) and metric share within a batch."""

    reason: str  # why they are refused ("" if they are not)
    sub: MeteredSubscription | None = None
    now: datetime | None = None  # on the subscription's clock
    latest: datetime | None = None  # later than this is in the future
    earliest: datetime | None = None  # earlier than this is too late
    field: str | None = None  # the number field to check, if any
    amounts_priced: bool = False  # a negative number is refused
    spec: MetricSpec | None = None
    defined_as: str = ""
    plain: bool = False  # no filters, no group_by, no value: one contribution per day


def _text_problem(e: IncomingEvent) -> str:
    """An id out of bounds, or NUL in text (PostgreSQL text cannot hold it: refused here,
    per event, on both databases); "" if neither."""
    if not e.id or len(e.id) > EVENT_ID_MAX:
        return f"id must be 1 to {EVENT_ID_MAX} characters"
    nul = "\x00" in e.id or "\x00" in e.subscription or "\x00" in e.customer
    props = e.properties
    if nul or (props and any("\x00" in k or "\x00" in v for k, v in props.items())):
        return "text fields must not contain NUL characters"
    return ""


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


class _MetricTerms(NamedTuple):
    field: str | None  # the number field to check, if any
    spec: MetricSpec
    defined_as: str
    plain: bool  # no filters, no group_by, no value: one contribution per day


class _TermsOf:
    """MeteringTerms' answers under one compiled rule set."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules  # held: the id this is kept under stays this object's
        self.metrics: dict[str, _MetricTerms] = {}
        self.priced: dict[tuple[str, str, datetime], tuple[frozenset[str], frozenset[str]]] = {}


class MeteringTerms:
    """What the active rules say about each metric, and which metrics each plan prices (in a
    currency, for a period start), kept per compiled rule set (the same object while its
    tenant's rules do not change): every batch of a stream asks again, and the answers
    depend on nothing else."""

    RULE_SETS_KEPT = 16
    PLANS_KEPT = 4096  # plans x currencies x period starts per rule set, at most

    def __init__(self) -> None:
        self._by_rules: dict[int, _TermsOf] = {}

    def _of(self, rules: RuleSet) -> _TermsOf:
        found = self._by_rules.get(id(rules))
        if found is None or found.rules is not rules:
            if len(self._by_rules) >= self.RULE_SETS_KEPT:
                self._by_rules.clear()
            found = self._by_rules[id(rules)] = _TermsOf(rules)
        return found

    def metric(self, rules: RuleSet, code: str) -> _MetricTerms:
        """The terms of a metric the rules define."""
        terms = self._of(rules)
        found = terms.metrics.get(code)
        if found is None:
            metric = rules.metering.metrics[code]
            counted = metric.aggregation in {"count", "unique_count"}
            spec = metric_spec(metric)
            found = terms.metrics[code] = _MetricTerms(
                metric.field if metric.field and not counted else None,
                spec,
                definition(spec),
                not spec.filters and not spec.group_by and valued_field(spec) is None,
            )
        return found

    def priced(
        self, rules: RuleSet, sub: MeteredSubscription
    ) -> tuple[frozenset[str], frozenset[str]]:
        """The metrics the subscription's plan prices in its currency at its period start,
        and those of them priced by transaction amounts (percentages)."""
        terms = self._of(rules)
        key = (sub.plan_code, sub.currency, sub.period_start)
        found = terms.priced.get(key)
        if found is None:
            if len(terms.priced) >= self.PLANS_KEPT:
                terms.priced.clear()
            found = terms.priced[key] = priced_metrics(rules, sub)
        return found


class EventResolver:
    """Checks an event and finds its subscription, caching lookups within one batch."""

    def __init__(
        self,
        tx: Transaction,
        tenant_id: str,
        rules: RuleSet,
        time: BillingTime,
        terms: MeteringTerms | None = None,
    ) -> None:
        self._tx = tx
        self._terms = terms if terms is not None else MeteringTerms()
        self._tenant_id = tenant_id
        self._rules = rules
        self._time = time
        self._subs: dict[str, MeteredSubscription | None] = {}
        self._by_customer: dict[str, list[MeteredSubscription]] = {}
        self._now: dict[str | None, datetime] = {}
        self._meters_metric: dict[tuple[str, str], bool] = {}
        self._targets: dict[tuple[str, str, str], _Target] = {}
        self._plain: dict[tuple[str, int], Contribution] = {}

    async def prefetch(self, events: Sequence[IncomingEvent]) -> None:
        """Read every subscription the batch names in one round trip, not one per id (what
        the checks need of it: a few columns)."""
        wanted: set[str] = set()
        for name in {e.subscription for e in events}:  # each name parsed once, not per event
            head, _, sid = name.partition("/")
            if head == "subscriptions" and is_id(sid, "sub") and sid not in self._subs:
                wanted.add(sid)
        if wanted:
            found = await self._tx.subscriptions.metered_many(self._tenant_id, sorted(wanted))
            self._subs.update({sid: found.get(sid) for sid in wanted})

    async def check(
        self, e: IncomingEvent, body_hash: bytes, at_text: str
    ) -> tuple[str, StoredEvent | None]:
        """Why the event is refused ("" if it is not), and the event to store with what it
        adds to its day's rollup (None when refused). `body_hash` and `at_text` are
        BodyHasher's."""
        if problem := _text_problem(e):
            return problem, None
        if e.metric not in self._rules.metering.metrics:
            return f"unknown metric {e.metric!r}", None
        at = e.timestamp
        if at is None:
            return "timestamp is required", None
        target = self._targets.get((e.subscription, e.customer, e.metric))
        if target is None:
            target = await self._target(e)
            self._targets[(e.subscription, e.customer, e.metric)] = target
        if target.reason:
            return target.reason, None
        assert target.sub is not None and target.latest is not None and target.earliest
        if at > target.latest:
            return f"timestamp {at.isoformat()} is in the future", None
        if at < target.earliest:
            lateness = self._rules.metering.max_lateness
            return f"timestamp is older than max_lateness ({lateness})", None
        # Received "now" on the subscription's own clock, the clock its invoices are dated by,
        # so "arrived after the period was billed" compares like with like.
        # The properties are the incoming event's own (a fresh dict, or the shared empty one).
        sub_id = target.sub.id
        event: Event | None = None
        if target.field is not None:
            event = Event(e.id, sub_id, e.metric, at, e.properties, received_at=target.now)
            try:
                value = usage_value(event, target.field)
            except ValueError as exc:
                return str(exc), None
            if value < 0 and target.amounts_priced:
                return negative_amount(target.field, e.metric), None
        rollup = self._rollup(target, e, at, event)
        stored = StoredEvent(
            e.id,
            sub_id,
            e.metric,
            at,
            e.properties,
            target.now,
            body_hash,
            rollup,
            None,
            None,
            at_text,
        )
        return "", stored

    def _rollup(
        self, target: _Target, e: IncomingEvent, at: datetime, event: Event | None
    ) -> Contribution:
        """What the checked event adds to its day's rollup (`event`: the Event if one was
        made for the number check)."""
        if target.plain:
            # The day's contribution is the same object for every event of that day.
            key = (target.defined_as, bucket_key(at))
            found = self._plain.get(key)
            if found is None:
                found = self._plain[key] = Contribution(bucket_of(at), target.defined_as, (), None)
            return found
        assert target.spec is not None and target.sub is not None
        if event is None:
            event = Event(e.id, target.sub.id, e.metric, at, e.properties, received_at=target.now)
        return contribution(target.spec, target.defined_as, event)

    async def _target(self, e: IncomingEvent) -> _Target:
        """The checks of `check` that depend only on the event's subscription (or customer)
        and metric (a known one), in the same order; a reason of "" leaves the per-event ones."""
        sub, reason = await self._subscription(e)
        if sub is None:
            return _Target(reason)
        now = await self._clock_now(sub)
        terms = self._terms.metric(self._rules, e.metric)
        return _Target(
            "",
            sub,
            now,
            latest=now + FUTURE_TOLERANCE,
            earliest=now - self._rules.metering.max_lateness,
            field=terms.field,
            amounts_priced=terms.field is not None
            and e.metric in self._terms.priced(self._rules, sub)[1],
            spec=terms.spec,
            defined_as=terms.defined_as,
            plain=terms.plain,
        )

    async def _subscription(self, e: IncomingEvent) -> tuple[MeteredSubscription | None, str]:
        if e.subscription:
            head, _, sid = e.subscription.partition("/")
            if head != "subscriptions" or not is_id(sid, "sub"):
                return None, f"subscription {e.subscription!r} is not subscriptions/sub_<ULID>"
            if sid not in self._subs:
                found = await self._tx.subscriptions.metered_many(self._tenant_id, [sid])
                self._subs[sid] = found.get(sid)
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

    async def _customer_subscriptions(self, customer_id: str) -> list[MeteredSubscription]:
        """All the customer's subscriptions, page by page."""
        subs: list[MeteredSubscription] = []
        while True:
            after = subs[-1].id if subs else None
            page = await self._tx.subscriptions.list_after(
                self._tenant_id, customer_id, after, CUSTOMER_PAGE
            )
            subs += [MeteredSubscription.of(sub) for sub in page]
            if len(page) < CUSTOMER_PAGE:
                return subs

    def _meters(self, sub: MeteredSubscription, metric: str) -> bool:
        # Asked for every event: the plan's prices are looked up once per batch.
        key = (sub.id, metric)
        if key not in self._meters_metric:
            self._meters_metric[key] = (
                not (sub.status == Status.CANCELED and sub.canceled_at is None)
                and metric in self._terms.priced(self._rules, sub)[0]
            )
        return self._meters_metric[key]

    async def _clock_now(self, sub: MeteredSubscription) -> datetime:
        if sub.clock_id not in self._now:
            self._now[sub.clock_id] = await self._time.now(self._tx, self._tenant_id, sub.clock_id)
        return self._now[sub.clock_id]
