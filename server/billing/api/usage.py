"""UsageService: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence

import grpc

from billing.api.billing_convert import instant, money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.app.context import Write
from billing.app.usage import ACCEPTED, DUPLICATE, UsageUseCases
from billing.app.usage_intake import IncomingEvent, Outcome
from billing.domain.metering import Event
from billing_client.v1 import usage_pb2 as pb
from billing_client.v1 import usage_pb2_grpc

OUTCOMES = {ACCEPTED: pb.EventResult.ACCEPTED, DUPLICATE: pb.EventResult.DUPLICATE}


def incoming(message: pb.UsageEvent) -> IncomingEvent:
    return IncomingEvent(
        id=message.id,
        subscription=message.subscription,
        customer=message.customer,
        metric=message.metric,
        timestamp=instant(message.timestamp, message.HasField("timestamp")),
        properties=dict(message.properties),
    )


def response(outcomes: Sequence[Outcome]) -> pb.IngestUsageResponse:
    results = [
        pb.EventResult(
            index=o.index,
            id=o.id,
            outcome=OUTCOMES.get(o.outcome, pb.EventResult.REFUSED),
            reason=o.reason,
        )
        for o in outcomes
    ]
    return pb.IngestUsageResponse(
        results=results,
        accepted=sum(o.outcome == ACCEPTED for o in outcomes),
        duplicates=sum(o.outcome == DUPLICATE for o in outcomes),
        refused=sum(o.outcome not in OUTCOMES for o in outcomes),
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
            async for message in request_iterator:
                yield [incoming(e) for e in message.events]

        return response(await self._usage.ingest_stream(ctx, chunks()))

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
