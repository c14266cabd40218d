"""ClockService: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from billing.api.billing_convert import clock_to_proto
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.api.parked import parked_to_proto
from billing.app.clocks import Advance, ClockUseCases, NewClock
from billing.app.context import Write
from billing.domain.errors import InvalidArgument
from billing_client.v1 import clocks_pb2 as pb
from billing_client.v1 import clocks_pb2_grpc


class ClockServicer(clocks_pb2_grpc.ClockServiceServicer):  # type: ignore[misc]
    def __init__(self, clocks: ClockUseCases, call_context: ContextFactory) -> None:
        self._clocks = clocks
        self._ctx = call_context

    async def CreateClock(
        self, request: pb.CreateClockRequest, context: grpc.aio.ServicerContext
    ) -> pb.Clock:
        ctx = self._ctx("CreateClock", context)
        now = instant(request.clock.now, request.clock.HasField("now"), "clock.now")
        if now is None:
            raise InvalidArgument.single("clock.now", "is required")
        write = Write(
            request.request_id, body_hash(request), NewClock(request.clock.display_name, now)
        )
        return clock_to_proto(await self._clocks.create(ctx, write))

    async def GetClock(
        self, request: pb.GetClockRequest, context: grpc.aio.ServicerContext
    ) -> pb.Clock:
        ctx = self._ctx("GetClock", context)
        return clock_to_proto(await self._clocks.get(ctx, request.name))

    async def AdvanceClock(
        self, request: pb.AdvanceClockRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.AdvanceClockResponse]:
        ctx = self._ctx("AdvanceClock", context)
        to = instant(request.to, request.HasField("to"), "to")
        if to is None:
            raise InvalidArgument.single("to", "is required")
        write = Write(request.request_id, body_hash(request), Advance(request.name, to))
        async for progress in self._clocks.advance(ctx, write, context.time_remaining()):
            yield pb.AdvanceClockResponse(
                done=progress.done,
                remaining=progress.remaining,
                processed_through=timestamp(progress.processed_through),
                last_item=progress.last_item,
                finished=progress.finished,
                parked=progress.parked,
                parked_items=parked_to_proto(progress.parked_items),
            )
