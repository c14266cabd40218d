"""EventService: translation only (ADR 0059)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import timestamp
from billing.app.event_stream import EventStream, WatchRequest
from billing.app.records import OutboxEvent
from billing_client.v1 import event_stream_pb2 as pb
from billing_client.v1 import event_stream_pb2_grpc


def event_to_proto(event: OutboxEvent) -> pb.Event:
    return pb.Event(
        id=event.id,
        type=event.type,
        resource=event.resource_name,
        data_json=json.dumps(event.payload, sort_keys=True, separators=(",", ":")),
        occur_time=timestamp(event.occurred_at),
    )


class EventServicer(event_stream_pb2_grpc.EventServiceServicer):  # type: ignore[misc]
    def __init__(self, stream: EventStream, call_context: ContextFactory) -> None:
        self._stream = stream
        self._ctx = call_context

    async def WatchEvents(
        self, request: pb.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.WatchEventsResponse]:
        ctx = self._ctx("WatchEvents", context)
        watch = WatchRequest(
            cursor=request.cursor,
            event_types=tuple(request.event_types),
            resource=request.resource,
            start_at_end=request.start_at_end,
            stop_when_caught_up=request.stop_when_caught_up,
        )
        async for delivery in self._stream.watch(ctx, watch, context.time_remaining()):
            if delivery.event is None:
                yield pb.WatchEventsResponse(cursor=delivery.cursor)
            else:
                yield pb.WatchEventsResponse(
                    event=event_to_proto(delivery.event), cursor=delivery.cursor
                )
