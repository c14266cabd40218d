"""Proration factors: what share of a period [start, end) remains after a change.

Kept unreduced (numerator, denominator) so a line can explain itself as `15/30 days`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_SECOND = timedelta(seconds=1)


def remaining_seconds(start: datetime, end: datetime, change_at: datetime) -> tuple[int, int]:
    """Whole seconds from the change to the period end over the period's whole seconds (a
    fraction of a second is dropped). Instants are absolute, so a local-time period across a
    DST change is simply an hour shorter or longer. Timedelta floor division is exact, where
    total_seconds() goes through a float that rounds long periods to the wrong second."""
    _check(start, end, change_at)
    return (end - change_at) // _SECOND, (end - start) // _SECOND


def remaining_days(
    start: datetime, end: datetime, change_at: datetime, time_zone: str
) -> tuple[int, int]:
    """Calendar days in `time_zone` from the change date (which counts for the new plan) to
    the period end, over the period's days."""
    _check(start, end, change_at)
    zone = ZoneInfo(time_zone)
    first, last, changed = (t.astimezone(zone).date() for t in (start, end, change_at))
    return (last - changed).days, (last - first).days


def _check(start: datetime, end: datetime, change_at: datetime) -> None:
    if not start < end:
        raise ValueError("a period must end after it starts")
    if not start <= change_at <= end:
        raise ValueError("the change must fall within the period")
