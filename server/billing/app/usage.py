"""Usage use cases: ingest events (batch and stream), correct them, report the open period.

Ingestion answers each event on its own (the documented exception to "no partial write"):
accepted, duplicate (same id and body: counted once) or refused with a reason; a batch is
written with one statement. Raises InvalidArgument for a malformed request as a whole.
Checking each event is `usage_intake`; which prices meter which metrics is `metered`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.metered import (
    AMOUNT_MODELS,
    MeteredPrice,
    answered_by_rollups,
    expand_groups,
    metered_prices,
    metric_spec,
    narrow,
    period_events,
    prices_amounts,
)
from billing.app.ports import Store, StoredEvent, Transaction
from billing.app.rules import ActiveRules, RuleUseCases
from billing.app.turns import give_way
from billing.app.usage_intake import (
    BodyHasher,
    EventResolver,
    IncomingEvent,
    MeteringTerms,
    Outcome,
    negative_amount,
    usage_value,
)
from billing.app.usage_tally import ACCEPTED, DUPLICATE, REFUSED, StreamTally
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, NotFound, StreamTooLong
from billing.domain.metering import (
    Event,
    MetricSpec,
    aggregate,
    amounts,
    effective,
)
from billing.domain.money import Money, round_to_minor
from billing.domain.names import parse_name
from billing.domain.prorated_usage import ProratedUsage, level_usage
from billing.domain.rollups import (
    BUCKET,
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
from billing.domain.subscriptions import Subscription
from billing.plugins.engines import PricingModel, PricingRequest
from billing.plugins.registry import Engines
from billing.rules.model import RuleSet

BATCH_EVENTS_MAX = 10_000  # one request; larger loads use StreamUsage
STREAM_CHUNK_EVENTS = 2_000  # written per statement when streaming
STREAM_READ_AHEAD = 2  # batches of a stream read while one is written
STREAM_EVENTS_MAX = 10_000_000  # events in one stream: ~4 minutes of one call at 50k/s
YIELD_EVERY = 64  # events checked between turns the loop gives to other calls
OUTCOMES_SLICE = 512  # events answered between turns


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
        self._terms = MeteringTerms()  # kept across batches, per compiled rule set
        # Told each committed batch's outcomes (the metrics' ingestion counters, ADR 0061).
        self.ingested: Callable[[Sequence[Outcome]], None] | None = None

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
            outcomes = await self._ingest(tx, ctx, events, first_index)
        if self.ingested is not None:
            self.ingested(outcomes)
        return outcomes

    async def ingest_stream(
        self, ctx: CallContext, chunks: AsyncIterator[Sequence[IncomingEvent]]
    ) -> StreamTally:
        """Batches of STREAM_CHUNK_EVENTS, each in its own transaction, in order, answered as
        counts and the first refused events (memory stays flat however long the stream).
        The next batch is read (and its messages decoded) while one is being written, up to
        STREAM_READ_AHEAD batches ahead: otherwise the stream stands still during every round
        trip of the write. No further: a full queue stops the reading, and gRPC's flow
        control then the caller (backpressure). Past STREAM_EVENTS_MAX events nothing more is
        read: the events before are written, then StreamTooLong says what became of them."""
        limit = STREAM_EVENTS_MAX
        batches: asyncio.Queue[list[IncomingEvent] | None] = asyncio.Queue(STREAM_READ_AHEAD)
        capped = False

        async def read() -> None:
            nonlocal capped
            buffer: list[IncomingEvent] = []
            received = 0
            async for chunk in chunks:
                taken = chunk if len(chunk) <= limit - received else chunk[: limit - received]
                capped = len(taken) < len(chunk)
                received += len(taken)
                buffer.extend(taken)
                while len(buffer) >= STREAM_CHUNK_EVENTS:
                    await batches.put(buffer[:STREAM_CHUNK_EVENTS])
                    buffer = buffer[STREAM_CHUNK_EVENTS:]
                if capped:
                    break
            if buffer:
                await batches.put(buffer)
            await batches.put(None)

        reader = asyncio.create_task(read())

        async def next_batch() -> list[IncomingEvent] | None:
            # Every batch read before a failure is written, as if read one at a time.
            while True:
                if not batches.empty():
                    return batches.get_nowait()
                if reader.done():
                    reader.result()  # the reader failed: its error is the call's
                got = asyncio.ensure_future(batches.get())
                await asyncio.wait({got, reader}, return_when=asyncio.FIRST_COMPLETED)
                if got.done():
                    return got.result()
                got.cancel()

        tally = StreamTally()
        try:
            while (batch := await next_batch()) is not None:
                outcomes = await self.ingest(ctx, batch, tally.events)
                await give_way()  # folding a batch's outcomes is CPU: other calls first
                tally.add(outcomes)
        finally:
            reader.cancel()  # a failed write stops the reading too
            await asyncio.gather(reader, return_exceptions=True)
        if capped:
            counts = {
                "accepted": str(tally.accepted),
                "duplicates": str(tally.duplicates),
                "refused": str(tally.refused),
            }
            raise StreamTooLong(limit, tally.summary(), counts)
        return tally

    async def _ingest(
        self, tx: Transaction, ctx: CallContext, events: Sequence[IncomingEvent], first: int
    ) -> list[Outcome]:
        active = await self._rules.active_rules_in(tx, ctx.tenant_id)
        rules = active.rules
        resolver = EventResolver(tx, ctx.tenant_id, rules, self._time, self._terms)
        await resolver.prefetch(events)
        await give_way()
        # One slot per event, in order; an event to store keeps its slot empty until the
        # insert says what became of it.
        outcomes: list[Outcome | None] = [None] * len(events)
        to_store: dict[str, tuple[int, StoredEvent]] = {}
        seen_in_batch: dict[str, bytes] = {}
        check = resolver.check
        hashed = BodyHasher()
        for offset, incoming in enumerate(events):
            if offset % YIELD_EVERY == YIELD_EVERY - 1:
                # Checking a batch is pure CPU (the lookups are cached): let other calls in.
                await give_way()
            digest, at_text = hashed(incoming)
            if incoming.id in seen_in_batch:
                same = seen_in_batch[incoming.id] == digest
                outcomes[offset] = Outcome(
                    first + offset,
                    incoming.id,
                    DUPLICATE if same else REFUSED,
                    "" if same else "id used twice with different bodies",
                )
                continue
            seen_in_batch[incoming.id] = digest
            reason, stored = await check(incoming, digest, at_text)
            if stored is None:
                outcomes[offset] = Outcome(first + offset, incoming.id, REFUSED, reason)
                continue
            to_store[incoming.id] = (offset, stored)
        inserted = await tx.usage.insert_batch(ctx.tenant_id, [s for _, s in to_store.values()])
        await give_way()
        conflicts = [event_id for event_id in to_store if event_id not in inserted]
        stored_hashes = await tx.usage.body_hashes(ctx.tenant_id, conflicts)
        for n, (event_id, (offset, stored)) in enumerate(to_store.items()):
            if n % OUTCOMES_SLICE == OUTCOMES_SLICE - 1:
                await give_way()  # an answer per event is CPU too
            if event_id in inserted:
                outcomes[offset] = Outcome(first + offset, event_id, ACCEPTED)
            elif stored_hashes.get(event_id) == stored.body_hash:
                outcomes[offset] = Outcome(first + offset, event_id, DUPLICATE)
            else:
                outcomes[offset] = Outcome(
                    first + offset,
                    event_id,
                    REFUSED,
                    "id already used for an event with another body",
                )
        return [o for o in outcomes if o is not None]

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
            await tx.usage.insert_batch(
                ctx.tenant_id, [StoredEvent.of(correction, digest.digest())]
            )
            removed, added = _rollup_change(spec, history, correction)
            if removed != added:
                await tx.usage.adjust_rollup(
                    ctx.tenant_id, original.subscription_id, original.metric, removed, added
                )
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
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
            rest = [m for m in metered if m.price.code not in rolled]
            events = await period_events(tx, ctx.tenant_id, sub.id, rest, *period) if rest else []
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
        # A prorated price (seats) weighs each unit by the time it existed in the period.
        prorated = level_usage(metered.spec, events, start, end) if metered.price.prorated else None
        return self.price_quantity(rules, metered, quantity, transactions, prorated)

    def price_quantity(
        self,
        rules: RuleSet,
        metered: MeteredPrice,
        quantity: Decimal,
        transactions: tuple[Decimal, ...] = (),
        prorated: ProratedUsage | None = None,
    ) -> MetricUsage:
        engine: PricingModel = self._engines.get("pricing_model", metered.price.model)
        priced = engine.price(PricingRequest(metered.price, quantity, transactions, prorated))
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
        value = usage_value(replace(original, properties=dict(properties)), spec.field)
    except ValueError as exc:
        raise InvalidArgument.single("properties", str(exc)) from None
    if value < 0 and amounts_priced:
        raise InvalidArgument.single("properties", negative_amount(spec.field, spec.code))


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
