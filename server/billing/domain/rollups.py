"""Usage rollups: a metric's events summed per UTC day as they are ingested, so a period's
count, sum or max is read from O(days) rows instead of O(events) (ADR 0013).

Pure: what one event adds to which row, and how the rows of the period's whole days plus the
events of its partial days (its edges) give exactly what `metering.aggregate` gives from all
of its events. Corrections change rows by the difference they make to their event.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from billing.domain.metering import ZERO, Event, MetricSpec, exact_sum, groups, matches, number
from billing.domain.money import MONEY_CONTEXT

BUCKET = timedelta(days=1)  # whole UTC days: a month is ~31 rows per metric and group
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ROLLED_UP = frozenset({"count", "sum", "max"})  # what a rollup can answer exactly
# Aggregations whose field is checked to be a number at ingestion: their rows carry its sum
# and max, so a metric that switches between them keeps its rows.
_VALUED = frozenset({"sum", "max", "latest", "latest_ever", "time_weighted_sum"})

Group = tuple[str, ...]  # the event's group_by values; () for a metric without group_by
Range = tuple[datetime, datetime]


@dataclass(frozen=True)
class Contribution:
    """What one event adds to the rollup row of its day."""

    bucket: datetime
    definition: str
    group: Group | None  # None: the metric's filters leave the event out (counted apart)
    value: Decimal | None  # the field's value, for metrics that read one


@dataclass(frozen=True)
class Rollup:
    """One stored row: the events of one day, definition and group."""

    bucket: datetime
    definition: str
    group: Group | None
    count: int
    total: Decimal | None
    peak: Decimal | None
    peak_stale: bool = False  # a correction took away a value that may have been the max


def bucket_of(t: datetime) -> datetime:
    # Timedelta floor division is exact; no float on the way.
    return EPOCH + (t - EPOCH) // BUCKET * BUCKET


def bucket_key(t: datetime) -> int:
    """Equal for two instants exactly when their buckets (UTC days) are: the UTC day's
    ordinal, read straight off a UTC instant (0.1 µs, against 1.2 for `bucket_of`)."""
    return t.toordinal() if t.tzinfo is UTC else bucket_of(t).toordinal()


def full_buckets(start: datetime, end: datetime) -> Range:
    """[first, last): the buckets that lie wholly inside [start, end); empty if none do."""
    first = bucket_of(start)
    if first < start:
        first += BUCKET
    return first, max(first, bucket_of(end))


def edges(start: datetime, end: datetime) -> list[Range]:
    """The parts of [start, end) outside its whole buckets, read from the events."""
    first, last = full_buckets(start, end)
    if first == last:
        return [(start, end)]
    return [(a, b) for a, b in ((start, first), (last, end)) if a < b]


def valued_field(spec: MetricSpec) -> str | None:
    return (spec.field or "") if spec.aggregation in _VALUED else None


def definition(spec: MetricSpec) -> str:
    """What a row was computed under. A row of another definition (the metric's field,
    filters or group_by changed since its events came in) cannot answer for this one."""
    body = {
        "field": valued_field(spec),
        "filters": sorted((spec.filters or {}).items()),
        "group_by": list(spec.group_by),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:32]


def contribution(spec: MetricSpec, defined_as: str, event: Event) -> Contribution:
    """What `event` adds to its day's row (`defined_as` is `definition(spec)`, computed once).
    Raises ValueError when the metric's field is not a number."""
    if not matches(event, spec.filters):
        return Contribution(bucket_of(event.timestamp), defined_as, None, None)
    field = valued_field(spec)
    return Contribution(
        bucket_of(event.timestamp),
        defined_as,
        tuple(event.properties.get(name, "") for name in spec.group_by),
        number(event, field) if field is not None else None,
    )


def answers(defined_as: str, rows: Iterable[Rollup]) -> bool:
    """Whether every row was made under the metric's current definition."""
    return all(r.definition == defined_as for r in rows)


def stale_buckets(spec: MetricSpec, rows: Iterable[Rollup]) -> set[datetime]:
    """Days whose max must be read from the events."""
    return {r.bucket for r in rows if r.peak_stale} if spec.aggregation == "max" else set()


@dataclass
class _Tally:
    count: int = 0
    total: Decimal = ZERO
    peak: Decimal | None = None

    def add(self, count: int, total: Decimal | None, peak: Decimal | None) -> None:
        self.count += count
        if total is not None:
            self.total = MONEY_CONTEXT.add(self.total, total)
        if peak is not None:
            self.peak = peak if self.peak is None else max(self.peak, peak)

    def quantity(self, aggregation: str) -> Decimal:
        if aggregation == "count":
            return Decimal(self.count)
        if aggregation == "sum":
            return self.total
        return ZERO if self.peak is None else self.peak


def quantities(
    spec: MetricSpec, rows: Iterable[Rollup], events: Sequence[Event], ranges: Sequence[Range]
) -> dict[Group, Decimal]:
    """The quantity of each group with events (() alone for a metric without group_by, even
    with none): `rows` for the whole days, `events` (with their corrections) for `ranges`."""
    if spec.aggregation not in ROLLED_UP:
        raise ValueError(f"a rollup cannot answer {spec.aggregation!r}")
    tallies: dict[Group, _Tally] = {}
    for row in rows:
        if row.group is not None:
            tallies.setdefault(row.group, _Tally()).add(row.count, row.total, row.peak)
    field = valued_field(spec)
    for start, end in ranges:
        for values, chosen in groups(spec, events, start, end).items():
            amounts = [number(e, field) for e in chosen] if field is not None else []
            tallies.setdefault(values, _Tally()).add(
                len(chosen), exact_sum(amounts), max(amounts, default=None)
            )
    found = {g: t.quantity(spec.aggregation) for g, t in tallies.items() if t.count > 0}
    if not spec.group_by:
        found.setdefault((), ZERO)
    return found
