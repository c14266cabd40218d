"""Built-in proration policies: `second` and `day` granularity."""

from __future__ import annotations

from collections.abc import Callable

from billing.domain import proration
from billing.plugins.engines import ProrationFactor, ProrationPolicyEngine, ProrationRequest
from billing.plugins.hookspecs import hookimpl


class BySecond:
    def remaining(self, request: ProrationRequest) -> ProrationFactor:
        num, den = proration.remaining_seconds(
            request.period_start, request.period_end, request.change_at
        )
        return ProrationFactor(num, den, "seconds")


class ByDay:
    def remaining(self, request: ProrationRequest) -> ProrationFactor:
        num, den = proration.remaining_days(
            request.period_start, request.period_end, request.change_at, request.time_zone
        )
        return ProrationFactor(num, den, "days")


@hookimpl
def billing_register_proration_policies(
    register: Callable[[str, ProrationPolicyEngine], None],
) -> None:
    register("second", BySecond())
    register("day", ByDay())
