"""GetMrr calls for the bench: the current MRR, or MRR at an instant a month back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import grpc
from google.protobuf import timestamp_pb2

from billing_client.v1 import metrics_pb2, metrics_pb2_grpc

MONTH_BACK = timedelta(days=30)


def month_back() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(datetime.now(UTC) - MONTH_BACK)
    return stamp


def get_mrr_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    *,
    at_month_back: bool,
    timeout_s: float,
) -> Callable[[int], Awaitable[None]]:
    stub = metrics_pb2_grpc.MetricsServiceStub(channel)
    # One instant per load process, fixed: every call sums the same span of movements.
    request = (
        metrics_pb2.GetMrrRequest(as_of_time=month_back())
        if at_month_back
        else metrics_pb2.GetMrrRequest()
    )

    async def call_get_mrr(_n: int) -> None:
        reply = await stub.GetMrr(request, timeout=timeout_s, metadata=metadata)
        if not reply.rows:
            raise ValueError("GetMrr answered no rows: the MRR state was not seeded")

    return call_get_mrr
