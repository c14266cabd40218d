"""Billable metrics: how a period's events become a quantity.

Pure functions over plain events. Corrections are records of their own that point at the
event they correct: a void removes it, an amend replaces its properties (the latest amend
wins). Quantities are exact Decimals; property values are read from their text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from billing.domain.money import MONEY_CONTEXT

AGGREGATIONS = ("count", "sum", "max", "unique_count", "latest", "time_weighted_sum")
ZERO = Decimal(0)


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
        value = Decimal(raw)
    except InvalidOperation:
        raise ValueError(f"property {field!r} of event {event.id} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"property {field!r} of event {event.id} is not finite")
    return value


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
        return sum((number(e, field) for e in chosen), ZERO)
    if kind == "max":
        return max((number(e, field) for e in chosen), default=ZERO)
    if kind == "unique_count":
        return Decimal(len({e.properties.get(field) for e in chosen if field in e.properties}))
    if kind == "latest":
        return number(chosen[-1], field) if chosen else ZERO
    if kind == "time_weighted_sum":
        return _time_weighted(chosen, field, period_start, period_end)
    raise ValueError(f"unknown aggregation {kind!r}")


def _time_weighted(events: Sequence[Event], field: str, start: datetime, end: datetime) -> Decimal:
    total_seconds = Decimal(int((end - start).total_seconds()))
    level, since, area = ZERO, start, ZERO
    for event in events:
        seconds = Decimal(int((event.timestamp - since).total_seconds()))
        area = MONEY_CONTEXT.add(area, MONEY_CONTEXT.multiply(level, seconds))
        level, since = number(event, field), event.timestamp
    seconds = Decimal(int((end - since).total_seconds()))
    area = MONEY_CONTEXT.add(area, MONEY_CONTEXT.multiply(level, seconds))
    return MONEY_CONTEXT.divide(area, total_seconds)


def groups(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> dict[tuple[str, ...], list[Event]]:
    """The period's events of `spec` by their `group_by` values (one group when none)."""
    found: dict[tuple[str, ...], list[Event]] = {}
    for e in _chosen(spec, events, period_start, period_end):
        key = tuple(e.properties.get(name, "") for name in spec.group_by)
        found.setdefault(key, []).append(e)
    return found
