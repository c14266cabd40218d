"""Daily rollups plus the events of a period's partial days give what the events give."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from billing.domain.metering import Event, MetricSpec, aggregate, groups
from billing.domain.rollups import (
    Rollup,
    bucket_key,
    bucket_of,
    contribution,
    definition,
    edges,
    full_buckets,
    quantities,
)

DAY = timedelta(days=1)
SPECS = [
    MetricSpec("m", "count"),
    MetricSpec("m", "sum", "n"),
    MetricSpec("m", "max", "n"),
    MetricSpec("m", "count", filters={"region": "eu"}),
    MetricSpec("m", "sum", "n", group_by=("region",)),
    MetricSpec("m", "max", "n", filters={"tier": "gold"}, group_by=("region", "tier")),
]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_whole_days_and_edges():
    start, end = at("2026-04-01T10:30:00"), at("2026-05-01T10:30:00")
    assert full_buckets(start, end) == (at("2026-04-02T00:00:00"), at("2026-05-01T00:00:00"))
    assert edges(start, end) == [
        (start, at("2026-04-02T00:00:00")),
        (at("2026-05-01T00:00:00"), end),
    ]
    midnight = at("2026-04-01T00:00:00")
    assert edges(midnight, midnight + 30 * DAY) == []
    short = (at("2026-04-01T10:00:00"), at("2026-04-01T11:00:00"))
    assert full_buckets(*short) == (at("2026-04-02T00:00:00"),) * 2
    assert edges(*short) == [short]


def rows_of(spec: MetricSpec, events: Sequence[Event]) -> list[Rollup]:
    """What ingestion keeps: each event's contribution added to its day's row."""
    defined_as = definition(spec)
    rows: dict[tuple[datetime, tuple[str, ...] | None], Rollup] = {}
    for event in events:
        c = contribution(spec, defined_as, event)
        key = (c.bucket, c.group)
        old = rows.get(key, Rollup(c.bucket, defined_as, c.group, 0, None, None))
        value = c.value
        rows[key] = Rollup(
            c.bucket,
            defined_as,
            c.group,
            old.count + 1,
            value if old.total is None else (None if value is None else old.total + value),
            value if old.peak is None else (old.peak if value is None else max(old.peak, value)),
        )
    return list(rows.values())


def by_events(spec: MetricSpec, events: Sequence[Event], start: datetime, end: datetime):  # type: ignore[no-untyped-def]
    if not spec.group_by:
        return {(): aggregate(spec, events, start, end)}
    found = {}
    for values in groups(spec, events, start, end):
        narrowed = MetricSpec(
            spec.code,
            spec.aggregation,
            spec.field,
            {**(spec.filters or {}), **dict(zip(spec.group_by, values, strict=True))},
        )
        found[values] = aggregate(narrowed, events, start, end)
    return found


@pytest.mark.parametrize("seed", range(20))
def test_rollups_answer_as_the_events_do(seed):
    pick = random.Random(seed)
    base = at("2026-03-25T00:00:00")
    events = []
    for i in range(300):
        props = {"n": str(Decimal(pick.randint(-500, 5000)) / 100)}
        for name, choices in (("region", ["eu", "us", ""]), ("tier", ["gold", "free"])):
            if pick.random() < 0.85:  # some events lack the property
                props[name] = pick.choice(choices)
        moment = base + timedelta(microseconds=pick.randrange(45 * 86_400 * 10**6))
        events.append(Event(f"e{i}", "sub", "m", moment, props))
    start = base + timedelta(seconds=pick.randrange(10 * 86_400))
    end = start + timedelta(days=pick.choice([1, 7, 30]), seconds=pick.randrange(86_400))
    first, last = full_buckets(start, end)
    for spec in SPECS:
        rows = [r for r in rows_of(spec, events) if first <= r.bucket < last]
        ranges = edges(start, end)
        near = [e for e in events if any(a <= e.timestamp < b for a, b in ranges)]
        assert quantities(spec, rows, near, ranges) == by_events(spec, events, start, end)


def test_bucket_key_is_equal_exactly_when_the_buckets_are():
    rng = random.Random(7)
    start = datetime(1969, 12, 30, tzinfo=UTC)
    instants = [start + timedelta(seconds=rng.randrange(0, 5 * 86_400)) for _ in range(300)]
    instants += [datetime(2026, 12, 7, tzinfo=UTC) - timedelta(microseconds=m) for m in (0, 1)]
    # Off UTC (a fixed offset) too, and the two kinds of instant against each other.
    plus_two = timezone(timedelta(hours=2))
    instants += [t.astimezone(plus_two) for t in instants[:50]]
    for a in instants:
        for b in instants[:60]:
            assert (bucket_key(a) == bucket_key(b)) == (bucket_of(a) == bucket_of(b)), (a, b)
