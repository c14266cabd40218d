"""Billing periods: where a cycle's boundaries fall, given an anchor and a cadence.

Boundaries are wall-clock times in the billing time zone, so a monthly cycle anchored at local
midnight stays at local midnight across DST, and a local day is 23 or 25 hours when the clocks
change. Every boundary is computed from the anchor, never from the previous boundary, so
month-end clamping (Jan 31 -> Feb 28 -> Mar 31) never drifts. Instants in and out are aware;
instants out are UTC. Periods are half-open: [start, end).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Interval = Literal["day", "week", "month", "year"]
_INTERVALS: tuple[str, ...] = get_args(Interval)

_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Cadence:
    """Every `count` intervals: Cadence("month", 3) is quarterly."""

    interval: Interval
    count: int = 1

    def __post_init__(self) -> None:
        if self.interval not in _INTERVALS:
            raise ValueError(f"interval must be one of {', '.join(_INTERVALS)}")
        if not isinstance(self.count, int) or isinstance(self.count, bool) or self.count < 1:
            raise ValueError("count must be an integer of at least 1")


@dataclass(frozen=True)
class Period:
    """One billing period [start, end) in UTC. `index` counts periods from the anchor: 0 is the
    period that starts at the anchor, -1 a (stub) period before it."""

    start: datetime
    end: datetime
    index: int

    def __post_init__(self) -> None:
        _require_aware(start=self.start, end=self.end)
        if not self.start < self.end:
            raise ValueError("a period must end after it starts")

    def contains(self, t: datetime) -> bool:
        _require_aware(t=t)
        return self.start <= t < self.end

    @property
    def seconds(self) -> int:
        # Floor division of timedeltas is exact; total_seconds() would go through a float.
        return (self.end - self.start) // _SECOND


def boundary(anchor: datetime, cadence: Cadence, n: int, time_zone: str = "UTC") -> datetime:
    """The n-th boundary after the anchor (n may be negative), as an aware UTC instant.

    The anchor's wall-clock time in `time_zone` plus n * count intervals; months and years keep
    the anchor's day of month, clamped to the month's last day. A local time that falls in a
    DST gap moves forward by the gap; an ambiguous one takes its first occurrence."""
    _require_aware(anchor=anchor)
    zone = _zone(time_zone)
    steps = n * cadence.count
    if steps == 0:
        # The anchor itself, even when its wall time is the second of two (fold=1).
        return anchor.astimezone(UTC)
    wall = anchor.astimezone(zone).replace(tzinfo=None)
    if cadence.interval == "day":
        shifted = wall + timedelta(days=steps)
    elif cadence.interval == "week":
        shifted = wall + timedelta(weeks=steps)
    elif cadence.interval == "month":
        shifted = _add_months(wall, steps)
    else:
        shifted = _add_months(wall, 12 * steps)
    return _to_utc(shifted, zone)


def period_at(anchor: datetime, cadence: Cadence, t: datetime, time_zone: str = "UTC") -> Period:
    """The period [boundary(n), boundary(n + 1)) containing t, for t at or after the anchor. A
    boundary instant belongs to the period it starts."""
    _require_aware(anchor=anchor, t=t)
    if t < anchor:
        raise ValueError("t must not be before the anchor")
    n = _estimate_index(anchor, cadence, t, _zone(time_zone))
    # The calendar estimate is off by at most one step (time of day, clamping, DST); walk to
    # the period whose half-open range holds t. Boundaries never decrease, so this ends.
    start = boundary(anchor, cadence, n, time_zone)
    while t < start:
        n -= 1
        start = boundary(anchor, cadence, n, time_zone)
    end = boundary(anchor, cadence, n + 1, time_zone)
    while t >= end:
        n, start = n + 1, end
        end = boundary(anchor, cadence, n + 1, time_zone)
    return Period(start, end, n)


def periods_between(
    anchor: datetime, cadence: Cadence, start: datetime, end: datetime, time_zone: str = "UTC"
) -> list[Period]:
    """Every period overlapping [start, end), in order and contiguous; the first may begin
    before `start` and the last end after `end`. Needs anchor <= start < end."""
    _require_aware(anchor=anchor, start=start, end=end)
    if not start < end:
        raise ValueError("the range must end after it starts")
    first = period_at(anchor, cadence, start, time_zone)
    periods = [first]
    n, lower = first.index + 1, first.end
    while lower < end:
        upper = boundary(anchor, cadence, n + 1, time_zone)
        # A local date a zone skipped entirely (Pacific/Apia, 2011-12-30) gives an empty
        # period; it holds no instant, so it is left out and the list stays contiguous.
        if upper > lower:
            periods.append(Period(lower, upper, n))
        n, lower = n + 1, upper
    return periods


def next_anchor_on_day(start: datetime, day_of_month: int, time_zone: str = "UTC") -> datetime:
    """Local midnight on `day_of_month` (1..31, clamped to the month's end) for a cycle starting
    at `start`: `start` itself if it is exactly that midnight, else the first such midnight
    after start's local date. Start 2026-03-10T00:00Z, day 1 -> 2026-04-01T00:00Z."""
    _require_aware(start=start)
    if not 1 <= day_of_month <= 31:
        raise ValueError("day_of_month must be between 1 and 31")
    zone = _zone(time_zone)
    today = start.astimezone(zone).date()
    candidate = _on_day(today.year, today.month, day_of_month)
    if candidate == today:
        # Compare instants, not wall times: where midnight falls in a DST gap the day begins
        # at 01:00, and a start at that instant is still "exactly midnight".
        midnight = _to_utc(datetime.combine(today, time()), zone)
        if start == midnight:
            return midnight
    if candidate <= today:
        year, month = divmod(today.year * 12 + today.month, 12)  # the next month
        candidate = _on_day(year, month + 1, day_of_month)
    return _to_utc(datetime.combine(candidate, time()), zone)


def day_anchor(first: datetime, day_of_month: int, time_zone: str = "UTC") -> datetime:
    """The anchor that keeps `day_of_month` for monthly boundaries. When the first boundary
    was clamped (day 31 in April gives Apr 30), boundaries computed from it would stay on
    the 30th; this walks back to the latest earlier month that has the day (Mar 31), so
    boundary(anchor, 1 month, 1) is still `first` and later months return to the 31st."""
    _require_aware(first=first)
    zone = _zone(time_zone)
    local = first.astimezone(zone)
    if local.day == day_of_month:
        return first
    months = local.year * 12 + local.month - 1
    while True:
        months -= 1
        year, month = divmod(months, 12)
        if calendar.monthrange(year, month + 1)[1] >= day_of_month:
            return _to_utc(datetime.combine(date(year, month + 1, day_of_month), time()), zone)


def stub_period(
    start: datetime, anchor: datetime, cadence: Cadence, time_zone: str = "UTC"
) -> tuple[Period, Period]:
    """For a start before the anchor: the stub [start, anchor) and the full interval ending at
    the anchor, [boundary(-1), anchor), whose length the stub is prorated over. Start 03-10,
    anchor 04-01, monthly: 22 days over March's 31. Both carry index -1."""
    _require_aware(start=start, anchor=anchor)
    if not start < anchor:
        raise ValueError("a stub period needs a start before the anchor")
    full = Period(boundary(anchor, cadence, -1, time_zone), anchor.astimezone(UTC), -1)
    # A stub longer than the full interval would prorate to more than one period's charge.
    if start < full.start:
        raise ValueError("the start must be within one interval before the anchor")
    return Period(start.astimezone(UTC), full.end, -1), full


@dataclass(frozen=True)
class FirstPeriod:
    """Where billing starts: the `anchor` later boundaries are computed from, the first
    `period`, and for a stub (a first period shorter than an interval) the `full` interval
    ending where the stub ends, which it is prorated over. `full` is None for a full period."""

    anchor: datetime
    period: Period
    full: Period | None = None


def first_period(
    start: datetime,
    cadence: Cadence,
    time_zone: str = "UTC",
    *,
    day_of_month: int = 0,
    align_to: datetime | None = None,
) -> FirstPeriod:
    """The first period of a cycle starting at `start`.

    - Neither given: a full period from the start, anchored there.
    - `day_of_month` (1..31): the first boundary is local midnight on that day (clamped to the
      month's end), the start itself if it is that midnight. A monthly cycle is anchored where
      the day exists (day 31, start Apr 10: boundaries Apr 30, May 31), so clamping never sticks.
      Start 03-10, day 1: stub [03-10, 04-01) over March.
    - `align_to` (another cycle's anchor, e.g. a base subscription's): boundaries are that
      anchor plus n of *this* cadence, so an add-on ends its periods with its base; the first is
      the earliest at or after the start. Base anchored Jan 31, start Apr 10: stub [04-10, 04-30)
      over [03-31, 04-30), then May 31. A boundary before `align_to` becomes the anchor itself,
      so every later boundary is at or after the anchor.
    """
    _require_aware(start=start)
    if day_of_month and align_to is not None:
        raise ValueError("give a day of month or an anchor to align to, not both")
    if align_to is not None:
        _require_aware(align_to=align_to)
        anchor, n = align_to, _first_index_at_or_after(align_to, cadence, start, time_zone)
        if n < 0:
            anchor, n = boundary(align_to, cadence, n, time_zone), 0
    elif day_of_month:
        first = next_anchor_on_day(start, day_of_month, time_zone)
        monthly = cadence.interval == "month" and cadence.count == 1
        anchor = day_anchor(first, day_of_month, time_zone) if monthly else first
        n = 0 if anchor == first else 1
    else:
        anchor, n = start, 0
    first = boundary(anchor, cadence, n, time_zone)
    if first == start:
        end = boundary(anchor, cadence, n + 1, time_zone)
        return FirstPeriod(anchor.astimezone(UTC), Period(first, end, n))
    full = Period(boundary(anchor, cadence, n - 1, time_zone), first, n - 1)
    # A stub longer than the interval would prorate to more than one period's charge (a
    # weekly cadence anchored on a day of month).
    if start < full.start:
        raise ValueError("the start must be within one interval before the first boundary")
    return FirstPeriod(anchor.astimezone(UTC), Period(start.astimezone(UTC), first, n - 1), full)


def _first_index_at_or_after(
    anchor: datetime, cadence: Cadence, t: datetime, time_zone: str
) -> int:
    """The least n with boundary(anchor, n) >= t; t may be before the anchor."""
    n = _estimate_index(anchor, cadence, t, _zone(time_zone))
    # Off by at most one step either way (time of day, clamping, DST); walk to it.
    while boundary(anchor, cadence, n, time_zone) < t:
        n += 1
    while boundary(anchor, cadence, n - 1, time_zone) >= t:
        n -= 1
    return n


def _estimate_index(anchor: datetime, cadence: Cadence, t: datetime, zone: ZoneInfo) -> int:
    """n from the calendar distance between the local dates of anchor and t."""
    first = anchor.astimezone(zone).date()
    last = t.astimezone(zone).date()
    if cadence.interval == "day":
        return (last - first).days // cadence.count
    if cadence.interval == "week":
        return (last - first).days // (7 * cadence.count)
    months = (last.year - first.year) * 12 + (last.month - first.month)
    if cadence.interval == "month":
        return months // cadence.count
    return months // (12 * cadence.count)


def _add_months(wall: datetime, months: int) -> datetime:
    """Same day of month (clamped), same wall time, `months` later (or earlier)."""
    year, month = divmod(wall.year * 12 + wall.month - 1 + months, 12)
    return datetime.combine(_on_day(year, month + 1, wall.day), wall.time())


def _on_day(year: int, month: int, day_of_month: int) -> date:
    return date(year, month, min(day_of_month, calendar.monthrange(year, month)[1]))


def _to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    # PEP 495: with fold=0 an ambiguous wall time takes its first occurrence, and one in a gap
    # takes the offset from before the transition, which lands it later by exactly the gap.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _zone(time_zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{time_zone!r} is not an IANA time zone") from None


def _require_aware(**instants: datetime) -> None:
    for name, value in instants.items():
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
