"""The calls of the usage scenarios, as a load process makes them.

StreamUsage: each call is one client-streaming StreamUsage call of CHUNKS_PER_CALL messages
of CHUNK_EVENTS `api_calls` events each (10,000 events), with ids unique to the run, stamped
within the last day before the simulation clock's time (STREAM_CLOCK_NOW), round-robin over
the subscriptions the load process owns. The call answers with counts and its refused events
(ADR 0022); the tally of accepted, duplicate and refused events is returned so that each
refused event counts as an error (the rate itself is counted in the database: see
usage_setup.CommittedEvents).

GetCurrentUsage: each call reads the open period's usage of a subscription picked at random.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from billing_client.v1 import usage_pb2, usage_pb2_grpc

CHUNK_EVENTS = 500
CHUNKS_PER_CALL = 20
EVENTS_PER_CALL = CHUNK_EVENTS * CHUNKS_PER_CALL
STREAM_CLOCK_NOW = datetime(2026, 4, 20, tzinfo=UTC)  # the StreamUsage clock after set-up
STREAM_METRIC = "api_calls"
DAY_S = 86_400
MESSAGE_CHARS = 200


@dataclass(frozen=True)
class EventTally:
    """What a StreamUsage call's response said about the events it sent."""

    sent: int
    accepted: int
    duplicates: int
    refused: int
    first_refusal: str = ""  # the first refused event's reason
    first_duplicate: str = ""  # the first duplicate's id

    @property
    def unanswered(self) -> int:
        return self.sent - self.accepted - self.duplicates - self.refused


def tally(sent: int, reply: usage_pb2.IngestUsageResponse) -> EventTally:
    refusal, duplicate = "", ""
    if reply.refused or reply.duplicates:
        for result in reply.results:
            if not refusal and result.outcome == usage_pb2.EventResult.REFUSED:
                refusal = f"event {result.id}: {result.reason}"[:MESSAGE_CHARS]
            if not duplicate and result.outcome == usage_pb2.EventResult.DUPLICATE:
                duplicate = result.id
            if refusal and duplicate:
                break
    return EventTally(
        sent, int(reply.accepted), int(reply.duplicates), int(reply.refused), refusal, duplicate
    )


def stream_usage_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    subscriptions: Sequence[str],
    *,
    run_tag: str,
    index: int,
    timeout_s: float,
) -> Callable[[int], Awaitable[EventTally]]:
    if not subscriptions:
        raise ValueError("StreamUsage needs subscriptions to send events for")
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    day_start = int(STREAM_CLOCK_NOW.timestamp()) - DAY_S
    subs = tuple(subscriptions)

    def chunk(n: int, c: int) -> usage_pb2.StreamUsageRequest:
        first = c * CHUNK_EVENTS
        events = []
        for k in range(first, first + CHUNK_EVENTS):
            serial = n * EVENTS_PER_CALL + k  # this process's k-th event of its n-th call
            events.append(
                usage_pb2.UsageEvent(
                    id=f"bench-{run_tag}-{index:03d}-{n:08d}-{k:05d}",
                    subscription=subs[serial % len(subs)],
                    metric=STREAM_METRIC,
                    # spread over the last day; spaced by a prime so calls do not repeat times
                    timestamp=timestamp_pb2.Timestamp(seconds=day_start + serial * 7 % DAY_S),
                )
            )
        return usage_pb2.StreamUsageRequest(events=events)

    async def call_stream(n: int) -> EventTally:
        async def requests() -> AsyncIterator[usage_pb2.StreamUsageRequest]:
            for c in range(CHUNKS_PER_CALL):  # made as they are sent, not all up front
                yield chunk(n, c)

        reply = await stub.StreamUsage(requests(), timeout=timeout_s, metadata=metadata)
        return tally(EVENTS_PER_CALL, reply)

    return call_stream


def current_usage_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    subscriptions: Sequence[str],
    *,
    index: int,
    timeout_s: float,
) -> Callable[[int], Awaitable[None]]:
    if not subscriptions:
        raise ValueError("GetCurrentUsage needs subscriptions to read")
    stub = usage_pb2_grpc.UsageServiceStub(channel)
    pick = random.Random(index).choice  # not for security: which subscription to read next

    async def call_current(_n: int) -> None:
        request = usage_pb2.GetCurrentUsageRequest(subscription=pick(subscriptions))
        await stub.GetCurrentUsage(request, timeout=timeout_s, metadata=metadata)

    return call_current
