"""What the edge's request checks cost per call, beside what decoding the request costs anyway.

    flock /tmp/bench.lock python -m billing.bench.request_checks

A typical CreateSubscription (customer, plan, a quantity, a price override, a start, two
phases) and a StreamUsage message of 500 events (the bench's chunk), twice: with ULID event
ids, and with the load bench's ids, whose "000-00000001-00042" is a run of 16 digits, so the
message's strings are searched for card numbers (ADR 0039) before the limit check. Each
figure is the best of several timeit repeats, in microseconds per call; the baselines, in the
same run, are `FromString` of the same bytes and the servicer's own first step on the request
(the body hash of a write; reading each usage event).
"""

from __future__ import annotations

import timeit
from collections.abc import Callable

from google.protobuf import timestamp_pb2

from billing.api.convert import body_hash
from billing.api.edge import check, tolerant
from billing.api.usage import incoming
from billing_client.v1 import subscriptions_pb2 as sp
from billing_client.v1 import usage_pb2 as us

REPEATS = 5


def create_subscription() -> sp.CreateSubscriptionRequest:
    return sp.CreateSubscriptionRequest(
        customer="customers/cus_01JQ8Z6X4Y7W9V2T3S5R1P0N8M",
        plan="plans/team_monthly",
        quantities={"prices/team_seat_usd": 12},
        price_overrides={"prices/team_seat_usd": "7.50"},
        start_time=timestamp_pb2.Timestamp(seconds=1_775_000_000),
        request_id="6f1c2d0e9b8a4f7e8d6c5b4a3f2e1d0c",
        phases=[
            sp.SubscriptionPhase(start_period=3, plan="plans/pro_monthly"),
            sp.SubscriptionPhase(start_period=12, quantities={"prices/team_seat_usd": 20}),
        ],
        coupon="coupons/WELCOME10",
    )


def usage_chunk(events: int = 500, ulid_ids: bool = False) -> us.StreamUsageRequest:
    return us.StreamUsageRequest(
        events=[
            us.UsageEvent(
                id=f"evt_01JQ8Z6X4Y7W9V2T3S{k:05d}"
                if ulid_ids
                else f"bench-run-000-00000001-{k:05d}",
                subscription="subscriptions/sub_01JQ8Z6X4Y7W9V2T3S5R1P0N8M",
                metric="api_calls",
                timestamp=timestamp_pb2.Timestamp(seconds=1_775_000_000 + k),
            )
            for k in range(events)
        ]
    )


def best_us(work: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(work, number=number, repeat=REPEATS)) / number * 1e6


def main() -> None:
    sub, chunk, plain = create_subscription(), usage_chunk(), usage_chunk(ulid_ids=True)
    for label, message, number, what, translate in (
        ("CreateSubscription", sub, 20_000, "body_hash", lambda: body_hash(sub)),
        (
            "StreamUsage message, 500 events, ULID ids",
            plain,
            50,
            "incoming() per event",
            lambda: [incoming(e) for e in plain.events],
        ),
        (
            "StreamUsage message, 500 events, ids with 16-digit runs",
            chunk,
            50,
            "incoming() per event",
            lambda: [incoming(e) for e in chunk.events],
        ),
    ):
        data = message.SerializeToString()
        parse = type(message).FromString
        guarded = tolerant(parse)
        decoded = guarded(data)  # the message, or a MayHoldCard wrapping it (ADR 0039)
        check(decoded)  # builds and caches the plans; the figures are the steady state
        base = best_us(lambda: parse(data), number)  # noqa: B023
        wrapped = best_us(lambda: guarded(data), number)  # noqa: B023
        checked = best_us(lambda: check(decoded), number)  # noqa: B023
        work = best_us(translate, number)
        card = "card numbers searched, " if decoded is not check(decoded) else ""
        print(
            f"{label} ({len(data)} bytes): decode {base:.2f} us (baseline), tolerant decode"
            f" {wrapped:.2f} us (+{wrapped - base:.2f}), {card}check {checked:.2f} us;"
            f" the servicer's {what} {work:.2f} us (baseline)"
        )


if __name__ == "__main__":
    main()
