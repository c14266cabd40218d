"""UsageService: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.app.context import Write
from billing.app.turns import give_way
from billing.app.usage import UsageUseCases
from billing.app.usage_intake import NO_PROPERTIES, IncomingEvent, Outcome
from billing.app.usage_tally import ACCEPTED, DUPLICATE, REFUSED, StreamTally, echoed
from billing.domain.metering import Event
from billing_client.v1 import usage_pb2 as pb
from billing_client.v1 import usage_pb2_grpc

OUTCOMES = {ACCEPTED: pb.EventResult.ACCEPTED, DUPLICATE: pb.EventResult.DUPLICATE}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Timestamp.ToDatetime is pure Python and the costliest step of reading an event: a valid
# timestamp takes the same arithmetic here; any other goes through it (and its error).
SECONDS_MIN, SECONDS_MAX = -62_135_596_800, 253_402_300_799  # 0001-01-01 .. 9999-12-31
NANOS_PER_SECOND, NANOS_PER_MICRO = 1_000_000_000, 1000
DECODE_SLICE = 128  # events of a stream's message decoded between turns given to other calls
# Minutes whose start and text are kept (the events of a stream cluster in time): a datetime
# and its isoformat() cost ~3 µs an event made afresh, ~1 from the minute's.
MINUTES_KEPT = 4096
_MINUTES: dict[int, tuple[datetime, str]] = {}
_SECONDS = tuple(timedelta(seconds=s) for s in range(60))


def utc_instant(seconds: int, micros: int) -> tuple[datetime, str]:
    """The UTC instant `seconds` + `micros` after the epoch, and its `isoformat()` text."""
    minute, second = divmod(seconds, 60)
    found = _MINUTES.get(minute)
    if found is None:
        if len(_MINUTES) >= MINUTES_KEPT:
            _MINUTES.clear()
        start = EPOCH + timedelta(minutes=minute)
        found = _MINUTES[minute] = (start, start.isoformat()[:-8])  # "...THH:MM:"
    start, prefix = found
    if micros:
        at = start + timedelta(seconds=second, microseconds=micros)
        return at, f"{prefix}{second:02d}.{micros:06d}+00:00"
    return start + _SECONDS[second], f"{prefix}{second:02d}+00:00"


def incoming(message: pb.UsageEvent) -> IncomingEvent:
    """Runs for every ingested event: attribute reads and one tuple, nothing more."""
    at, at_text = None, ""
    if message.HasField("timestamp"):
        ts = message.timestamp
        seconds, nanos = ts.seconds, ts.nanos
        if SECONDS_MIN <= seconds <= SECONDS_MAX and 0 <= nanos < NANOS_PER_SECOND:
            at, at_text = utc_instant(seconds, nanos // NANOS_PER_MICRO)
        else:
            at = instant(ts, True, "events.timestamp")
    properties = message.properties
    return IncomingEvent(
        message.id,
        message.subscription,
        message.customer,
        message.metric,
        at,
        dict(properties) if properties else NO_PROPERTIES,
        at_text,
    )


def response(outcomes: Sequence[Outcome]) -> pb.IngestUsageResponse:
    reply = pb.IngestUsageResponse()
    counts = {ACCEPTED: 0, DUPLICATE: 0, REFUSED: 0}
    for o in outcomes:
        counts[o.outcome if o.outcome in OUTCOMES else REFUSED] += 1
    _add_results(reply, outcomes)
    reply.accepted = counts[ACCEPTED]
    reply.duplicates = counts[DUPLICATE]
    reply.refused = counts[REFUSED]
    return reply


def stream_response(tally: StreamTally) -> pb.IngestUsageResponse:
    """Counts and the first refused events: as small for 10 million events as for 10."""
    reply = pb.IngestUsageResponse(
        accepted=tally.accepted,
        duplicates=tally.duplicates,
        refused=tally.refused,
        refused_unlisted=tally.refused_unlisted,
    )
    _add_results(reply, tally.listed)
    return reply


def _add_results(reply: pb.IngestUsageResponse, outcomes: Iterable[Outcome]) -> None:
    add = reply.results.add  # built in place: no EventResult copied into the list
    refused = pb.EventResult.REFUSED
    for o in outcomes:
        known = o.outcome in OUTCOMES
        shown = o if known else echoed(o)  # a reason (or a refused id) may quote long input
        add(
            index=shown.position,
            id=shown.id,
            outcome=OUTCOMES[o.outcome] if known else refused,
            reason=shown.reason,
        )


def event_to_proto(event: Event) -> pb.UsageEvent:
    return pb.UsageEvent(
        id=event.id,
        subscription=f"subscriptions/{event.subscription_id}",
        metric=event.metric,
        timestamp=timestamp(event.timestamp),
        properties=dict(event.properties),
        corrects=event.corrects or "",
        correction=event.correction or "",
    )


class UsageServicer(usage_pb2_grpc.UsageServiceServicer):  # type: ignore[misc]
    def __init__(self, usage: UsageUseCases, call_context: ContextFactory) -> None:
        self._usage = usage
        self._ctx = call_context

    async def IngestUsage(
        self, request: pb.IngestUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.IngestUsageResponse:
        ctx = self._ctx("IngestUsage", context)
        return response(await self._usage.ingest(ctx, [incoming(e) for e in request.events]))

    async def StreamUsage(
        self,
        request_iterator: AsyncIterator[pb.StreamUsageRequest],
        context: grpc.aio.ServicerContext,
    ) -> pb.IngestUsageResponse:
        ctx = self._ctx("StreamUsage", context)

        async def chunks() -> AsyncIterator[list[IncomingEvent]]:
            # At most 10,000 events a message: the edge refuses more (docs/limits.md).
            async for message in request_iterator:
                events = message.events
                decoded: list[IncomingEvent] = []
                for first in range(0, len(events), DECODE_SLICE):
                    decoded += [incoming(e) for e in events[first : first + DECODE_SLICE]]
                    await give_way()  # decoding is pure CPU: let other calls in
                yield decoded

        return stream_response(await self._usage.ingest_stream(ctx, chunks()))

    async def VoidEvent(
        self, request: pb.VoidEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.UsageEvent:
        ctx = self._ctx("VoidEvent", context)
        correction: tuple[str, str, Mapping[str, str]] = (request.event_id, "void", {})
        write = Write(request.request_id, body_hash(request), correction)
        return event_to_proto(await self._usage.correct(ctx, write))

    async def AmendEvent(
        self, request: pb.AmendEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.UsageEvent:
        ctx = self._ctx("AmendEvent", context)
        correction: tuple[str, str, Mapping[str, str]] = (
            request.event_id,
            "amend",
            dict(request.properties),
        )
        write = Write(request.request_id, body_hash(request), correction)
        return event_to_proto(await self._usage.correct(ctx, write))

    async def GetCurrentUsage(
        self, request: pb.GetCurrentUsageRequest, context: grpc.aio.ServicerContext
    ) -> pb.CurrentUsage:
        ctx = self._ctx("GetCurrentUsage", context)
        current = await self._usage.current(ctx, request.subscription)
        sub = current.subscription
        return pb.CurrentUsage(
            period_start=timestamp(sub.period_start),
            period_end=timestamp(sub.period_end),
            metrics=[
                pb.MetricUsage(
                    metric=m.metric,
                    price=f"prices/{m.price_code}",
                    quantity=str(m.quantity),
                    amount=money(m.amount.currency_code, m.amount.amount_minor),
                    group=m.group,
                )
                for m in current.metrics
            ],
            total=money(current.total.currency_code, current.total.amount_minor),
            rule_set=current.rules.name,
        )
