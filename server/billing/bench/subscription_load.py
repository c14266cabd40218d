"""The calls of the subscription scenarios, as a load process makes them.

CreateSubscription: each call subscribes a customer (round-robin over customers living on a
simulation clock) to `plans/basic_monthly`; the server writes the subscription, its first
invoice and its renewal's due-work row in one transaction.

ChangeSubscription: each load process owns its own subscriptions (no other process touches
them, so there is no etag contention) and each call changes one that no other lane of the
process is changing, between basic_monthly and pro_monthly priced at 2026-04-16, with the
etag of the previous response. A successful call reads nothing; a call whose outcome is
unknown or whose etag was stale (ABORTED, DEADLINE_EXCEEDED...) re-reads its subscription
before it is counted as an error, so that one lost response does not fail every later call.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import grpc
from google.protobuf import timestamp_pb2

from billing_client.v1 import subscriptions_pb2, subscriptions_pb2_grpc

BASIC = "plans/basic_monthly"
PRO = "plans/pro_monthly"
CLOCK_START = datetime(2026, 4, 1, tzinfo=UTC)  # the simulation clocks' time at set-up
PRORATION_TIME = datetime(2026, 4, 16, tzinfo=UTC)  # inside the first period of every sub

# After these the etag may have moved on (or was stale): re-read it. After any other status
# the server changed nothing and the etag held is still the subscription's.
OUTCOME_UNKNOWN = frozenset(
    {
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
    }
)

Call = Callable[[int], Awaitable[None]]


@dataclass(frozen=True)
class OwnedSubscription:
    name: str
    etag: str  # as the last response returned it
    plan: str  # the plan it ends up on: a pending (end-of-period) change counts as made


def timestamp(at: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(at)
    return stamp


def owned(sub: subscriptions_pb2.Subscription) -> OwnedSubscription:
    """What a load process keeps of a subscription a response returned."""
    return OwnedSubscription(sub.name, sub.etag, sub.pending_change.plan or sub.plan)


def other_plan(plan: str) -> str:
    return BASIC if plan == PRO else PRO


def request_id(run_tag: str, process: int, n: int) -> str:
    return f"bench-{run_tag}-{process:03d}-{n:010d}"


def create_subscription_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    customers: Sequence[str],
    *,
    run_tag: str,
    index: int,
    timeout_s: float,
) -> Call:
    if not customers:
        raise ValueError("CreateSubscription needs customers to subscribe")
    stub = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    offset = index * 7919  # processes start at different customers

    async def call_create(n: int) -> None:
        request = subscriptions_pb2.CreateSubscriptionRequest(
            customer=customers[(offset + n) % len(customers)],
            plan=BASIC,
            request_id=request_id(run_tag, index, n),
        )
        await stub.CreateSubscription(request, timeout=timeout_s, metadata=metadata)

    return call_create


def change_subscription_call(
    channel: grpc.aio.Channel,
    metadata: tuple[tuple[str, str], ...],
    subscriptions: Sequence[OwnedSubscription],
    *,
    run_tag: str,
    index: int,
    concurrency: int,
    timeout_s: float,
) -> Call:
    if len(subscriptions) < concurrency:
        raise ValueError(
            f"ChangeSubscription needs at least {concurrency} subscriptions per load process"
            f" (one per call in flight), got {len(subscriptions)}"
        )
    stub = subscriptions_pb2_grpc.SubscriptionServiceStub(channel)
    idle: deque[OwnedSubscription] = deque(subscriptions)  # not being changed right now
    at = timestamp(PRORATION_TIME)

    async def reread(sub: OwnedSubscription) -> OwnedSubscription:
        try:
            current = await stub.GetSubscription(
                subscriptions_pb2.GetSubscriptionRequest(name=sub.name),
                timeout=timeout_s,
                metadata=metadata,
            )
        except grpc.aio.AioRpcError:
            return sub
        return owned(current)

    async def call_change(n: int) -> None:
        sub = idle.popleft()
        try:
            request = subscriptions_pb2.ChangeSubscriptionRequest(
                change=subscriptions_pb2.SubscriptionChange(
                    subscription=sub.name, plan=other_plan(sub.plan), proration_time=at
                ),
                etag=sub.etag,
                request_id=request_id(run_tag, index, n),
            )
            reply = await stub.ChangeSubscription(request, timeout=timeout_s, metadata=metadata)
            sub = owned(reply.subscription)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in OUTCOME_UNKNOWN:
                sub = await reread(sub)
            raise
        finally:
            idle.append(sub)

    return call_change
