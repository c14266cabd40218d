"""Built-in recognition methods: `point_in_time` and `ratable` (straight line by day)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from billing.plugins.engines import RecognitionEntry, RecognitionMethod, RecognitionRequest
from billing.plugins.hookspecs import hookimpl


class PointInTime:
    def schedule(self, request: RecognitionRequest) -> tuple[RecognitionEntry, ...]:
        return (RecognitionEntry(request.service_start, request.amount_minor),)


class Ratable:
    def schedule(self, request: RecognitionRequest) -> tuple[RecognitionEntry, ...]:
        days = (request.service_end - request.service_start).days
        if days <= 0:
            raise ValueError("the service period must be at least one day")
        # Equal daily shares in minor units; the remainder goes one unit a day to the first
        # days, so the entries sum exactly to the amount.
        share, remainder = divmod(request.amount_minor, days)
        return tuple(
            RecognitionEntry(request.service_start + timedelta(days=i), share + (i < remainder))
            for i in range(days)
        )


@hookimpl
def billing_register_recognition_methods(
    register: Callable[[str, RecognitionMethod], None],
) -> None:
    register("point_in_time", PointInTime())
    register("ratable", Ratable())
