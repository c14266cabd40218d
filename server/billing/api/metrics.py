"""MetricsService: translation only."""

from __future__ import annotations

from datetime import datetime

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import instant
from billing.app.mrr import MetricsUseCases
from billing.domain.errors import InvalidArgument
from billing_client.v1 import metrics_pb2 as pb
from billing_client.v1 import metrics_pb2_grpc, money_pb2


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def _required(message: object, field: str) -> datetime:
    stamp = getattr(message, field)
    at = instant(stamp, message.HasField(field), field)  # type: ignore[attr-defined]
    if at is None:
        raise InvalidArgument.single(field, "is required")
    return at


class MetricsServicer(metrics_pb2_grpc.MetricsServiceServicer):  # type: ignore[misc]
    def __init__(self, metrics: MetricsUseCases, call_context: ContextFactory) -> None:
        self._metrics = metrics
        self._ctx = call_context

    async def GetMrr(
        self, request: pb.GetMrrRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMrrResponse:
        ctx = self._ctx("GetMrr", context)
        at = instant(request.as_of_time, request.HasField("as_of_time"), "as_of_time")
        totals = await self._metrics.mrr(ctx, at)
        return pb.GetMrrResponse(
            rows=[
                pb.MrrRow(mrr=_money(c, amount), arr=_money(c, amount * 12))
                for c, amount in sorted(totals.items())
            ]
        )

    async def GetMrrMovements(
        self, request: pb.GetMrrMovementsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetMrrMovementsResponse:
        ctx = self._ctx("GetMrrMovements", context)
        start = _required(request, "start_time")
        end = _required(request, "end_time")
        rows = await self._metrics.movements(ctx, start, end)
        return pb.GetMrrMovementsResponse(
            rows=[
                pb.MrrMovementRow(
                    kind=r.kind, amount=_money(r.currency, r.amount_minor), count=r.count
                )
                for r in rows
            ]
        )

    async def GetChurn(
        self, request: pb.GetChurnRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetChurnResponse:
        ctx = self._ctx("GetChurn", context)
        start = _required(request, "start_time")
        end = _required(request, "end_time")
        rows = await self._metrics.churn(ctx, start, end)
        return pb.GetChurnResponse(
            rows=[
                pb.ChurnRow(
                    currency_code=r.currency,
                    customers_at_start=r.customers_at_start,
                    customers_churned=r.customers_churned,
                    logo_churn=str(r.logo_churn),
                    mrr_at_start=_money(r.currency, r.mrr_at_start_minor),
                    mrr_lost=_money(r.currency, r.mrr_lost_minor),
                    revenue_churn=str(r.revenue_churn),
                )
                for r in rows
            ]
        )
