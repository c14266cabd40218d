"""Billable metrics: how a period's events become a quantity.

Pure functions over plain events. Corrections are records of their own that point at the
event they correct: a void removes it, an amend replaces its properties (the latest amend
wins). Quantities are exact Decimals summed in the money context; property values are read
from their text; time is counted in whole seconds, as integers.

Some aggregations read a level that holds until it is changed (`CARRIED`): for them the
latest event before the period (as corrected, matching the filters, per group) sets the level
the period starts at, so callers pass it with the period's events (`UsageRepository.
latest_before`). Every other aggregation ignores events outside the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.domain.money import MONEY_CONTEXT, parse_decimal

AGGREGATIONS = (
    "count",
    "sum",
    "max",
    "unique_count",
    "latest",
    "latest_ever",
    "time_weighted_sum",
)
# A level reported once holds until it is changed, across periods: storage in use (Lago's
# weighted_sum), seats or any value reported when it changes (Stripe's last_ever).
CARRIED = frozenset({"time_weighted_sum", "latest_ever"})
ZERO = Decimal(0)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Event:
    id: str
    subscription_id: str
    metric: str
    timestamp: datetime
    properties: Mapping[str, str]
    corrects: str | None = None  # the id of the event this record corrects
    correction: str | None = None  # "void" or "amend"
    received_at: datetime | None = None


@dataclass(frozen=True)
class MetricSpec:
    code: str
    aggregation: str
    field: str | None = None
    filters: Mapping[str, str] | None = None
    group_by: tuple[str, ...] = ()  # one quantity per combination of these properties


def effective(events: Iterable[Event]) -> list[Event]:
    """The events as corrected: voided ones gone, amended ones with their latest properties."""
    originals: dict[str, Event] = {}
    corrections: list[Event] = []
    for event in events:
        (corrections if event.corrects else [originals.setdefault(event.id, event)]).append(event)
    for fix in sorted(corrections, key=lambda e: (e.received_at or e.timestamp, e.id)):
        target = originals.get(fix.corrects or "")
        if target is None:
            continue
        if fix.correction == "void":
            del originals[target.id]
        else:
            originals[target.id] = Event(
                target.id,
                target.subscription_id,
                target.metric,
                target.timestamp,
                fix.properties,
                received_at=target.received_at,
            )
    return sorted(originals.values(), key=lambda e: (e.timestamp, e.id))


def matches(event: Event, filters: Mapping[str, str] | None) -> bool:
    # A missing property reads as empty text, as `groups` reads it: an event without a
    # group_by property is then counted in the empty group it is listed under.
    return not filters or all(event.properties.get(k, "") == v for k, v in filters.items())


def number(event: Event, field: str) -> Decimal:
    """A property as an exact Decimal (ValueError for text that is not a plain number)."""
    raw = event.properties.get(field)
    if raw is None:
        return ZERO
    try:
        return parse_decimal(raw)  # the one grammar: no " 5 ", "1_000", "1e3", "+5", NaN
    except ValueError as exc:
        message = f"property {field!r} of event {event.id} is not a number: {exc}"
        raise ValueError(message) from None


def _chosen(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> list[Event]:
    return [
        e
        for e in effective(events)
        if e.metric == spec.code
        and period_start <= e.timestamp < period_end
        and matches(e, spec.filters)
    ]


def group_of(spec: MetricSpec, event: Event) -> tuple[str, ...]:
    return tuple(event.properties.get(name, "") for name in spec.group_by)


def carried(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime
) -> dict[tuple[str, ...], Event]:
    """Per group, the event whose level the period starts at: the latest before
    `period_start`, as corrected and matching the filters. Empty unless `spec` carries."""
    if spec.aggregation not in CARRIED:
        return {}
    found: dict[tuple[str, ...], Event] = {}
    for e in effective(events):  # in time order: a later event replaces an earlier one
        if e.metric == spec.code and e.timestamp < period_start and matches(e, spec.filters):
            found[group_of(spec, e)] = e
    return found


def amounts(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> tuple[Decimal, ...]:
    """Each event's `field` value, in time order: the transactions a percentage price reads."""
    return tuple(
        number(e, spec.field or "") for e in _chosen(spec, events, period_start, period_end)
    )


def aggregate(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> Decimal:
    """The quantity of `spec` over the events of [period_start, period_end), corrections
    applied. For time_weighted_sum each event sets the level from its timestamp on, and the
    result is the level averaged over the period (10 GB for half a period and 30 GB for the
    other half: 20 GB-months)."""
    chosen = _chosen(spec, events, period_start, period_end)
    kind, field = spec.aggregation, spec.field or ""
    if kind == "count":
        return Decimal(len(chosen))
    if kind == "sum":
        return exact_sum(number(e, field) for e in chosen)
    if kind == "max":
        return max((number(e, field) for e in chosen), default=ZERO)
    if kind == "unique_count":
        return Decimal(len({e.properties.get(field) for e in chosen if field in e.properties}))
    if kind == "latest":
        return number(chosen[-1], field) if chosen else ZERO
    if kind not in CARRIED:
        raise ValueError(f"unknown aggregation {kind!r}")
    # A spec with group_by left whole (callers narrow it to one group) starts at the latest
    # level of any group.
    before = max(carried(spec, events, period_start).values(), default=None, key=_order)
    start_level = number(before, field) if before is not None else ZERO
    if kind == "latest_ever":
        return number(chosen[-1], field) if chosen else start_level
    return _time_weighted(chosen, field, start_level, period_start, period_end)


def _order(event: Event) -> tuple[datetime, str]:
    return event.timestamp, event.id


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Added in the money context (38 digits), whatever the ambient context."""
    total = ZERO
    for value in values:
        total = MONEY_CONTEXT.add(total, value)
    return total


def _seconds_in(start: datetime, t: datetime) -> int:
    """Whole seconds from `start` to `t` (timedelta floor division: exact, no float)."""
    return (t - start) // _SECOND


def _time_weighted(
    events: Sequence[Event], field: str, level: Decimal, start: datetime, end: datetime
) -> Decimal:
    """The level averaged over [start, end), starting at `level`. Each event sets the level
    from the whole second it falls in, counted from the period start, so the stretches add up
    to the period's seconds exactly."""
    total_seconds = _seconds_in(start, end)
    if total_seconds <= 0:  # a period cancelled at its first instant: nothing was used
        return ZERO
    area, since = ZERO, 0
    for event in events:
        at = _seconds_in(start, event.timestamp)
        area = MONEY_CONTEXT.add(area, MONEY_CONTEXT.multiply(level, Decimal(at - since)))
        level, since = number(event, field), at
    area = MONEY_CONTEXT.add(area, MONEY_CONTEXT.multiply(level, Decimal(total_seconds - since)))
    return MONEY_CONTEXT.divide(area, Decimal(total_seconds))


def groups(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> dict[tuple[str, ...], list[Event]]:
    """The period's events of `spec` by their `group_by` values (one group when none). For an
    aggregation that carries a level, a group whose level is carried into the period is a
    group too, listed with the event that set it."""
    found: dict[tuple[str, ...], list[Event]] = {
        key: [e] for key, e in carried(spec, events, period_start).items()
    }
    for e in _chosen(spec, events, period_start, period_end):
        found.setdefault(group_of(spec, e), []).append(e)
    return found
