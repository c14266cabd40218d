"""A recognition method beside the built-in ones (`ratable` by day, `point_in_time`,
`usage`, which the domain decides itself): `ratable_monthly`, straight-line by calendar month.

Many finance teams book a subscription's revenue as equal monthly amounts rather than by
day (February earns as much as March). Each calendar month the service period touches earns
its fraction of a month (service days in it over its days: 1 for a whole month), and the
amount is split in proportion by largest remainder, so the parts add up exactly. A month's
part is dated on its last service day. A plugin's method is asked once, when the invoice is
finalized; its entries are written on the schedule (ADR 0054)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from billing.domain.recognition import allocate
from billing.plugins.engines import RecognitionEntry, RecognitionMethod, RecognitionRequest
from billing.plugins.hookspecs import hookimpl


def _month_end(day: date) -> date:
    """The first day of the month after `day`'s."""
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


class RatableMonthly:
    def schedule(self, request: RecognitionRequest) -> tuple[RecognitionEntry, ...]:
        if request.service_end <= request.service_start:
            raise ValueError("the service period must be at least one day")
        months: list[tuple[date, Decimal]] = []  # (last service day, fraction of a month)
        day = request.service_start
        while day < request.service_end:
            following = _month_end(day)
            stop = min(following, request.service_end)
            month_days = (following - date(day.year, day.month, 1)).days
            months.append((stop - timedelta(days=1), Decimal((stop - day).days) / month_days))
            day = stop
        parts = allocate(request.amount_minor, [fraction for _, fraction in months])
        return tuple(
            RecognitionEntry(on, part) for (on, _), part in zip(months, parts, strict=True)
        )


@hookimpl
def billing_register_recognition_methods(
    register: Callable[[str, RecognitionMethod], None],
) -> None:
    register("ratable_monthly", RatableMonthly())
