"""Parked due work on the wire (RunBilling, AdvanceClock progress)."""

from __future__ import annotations

from collections.abc import Iterable

from billing.api.convert import timestamp
from billing.app.ports import ParkedItem
from billing_client.v1 import due_work_pb2 as pb


def parked_to_proto(items: Iterable[ParkedItem]) -> list[pb.ParkedWork]:
    return [
        pb.ParkedWork(
            id=item.id,
            kind=item.kind,
            subscription=f"subscriptions/{item.subscription_id}",
            due_time=timestamp(item.due_at),
            attempts=item.attempts,
            last_error=item.last_error,
            park_time=timestamp(item.parked_at),
        )
        for item in items
    ]
