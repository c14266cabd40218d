"""Billable metrics over plain events, exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.domain.metering import Event, MetricSpec, aggregate, effective

START = datetime(2026, 4, 1, tzinfo=UTC)
END = datetime(2026, 5, 1, tzinfo=UTC)


def ev(i: int, day: int, metric: str = "m", **props: str) -> Event:
    return Event(f"e{i}", "sub", metric, START + timedelta(days=day), props)


def test_time_weighted_sum_gives_gb_months():
    events = [ev(1, 0, gb="10"), ev(2, 15, gb="30")]
    assert aggregate(MetricSpec("m", "time_weighted_sum", "gb"), events, START, END) == Decimal(20)


@pytest.mark.parametrize(
    ("aggregation", "field", "expected"),
    [
        ("count", None, "3"),
        ("sum", "n", "6.5"),
        ("max", "n", "4"),
        ("unique_count", "user", "2"),
        ("latest", "n", "0.5"),
    ],
)
def test_aggregations(aggregation, field, expected):
    events = [
        ev(1, 1, n="2", user="a"),
        ev(2, 2, n="4", user="b"),
        ev(3, 3, n="0.5", user="a"),
        ev(4, 40, n="100", user="c"),
        ev(5, 2, metric="other", n="9"),
    ]
    assert aggregate(MetricSpec("m", aggregation, field), events, START, END) == Decimal(expected)


def test_filters_select_events_by_property():
    events = [ev(1, 1, region="eu"), ev(2, 2, region="us"), ev(3, 3, region="eu")]
    spec = MetricSpec("m", "count", filters={"region": "eu"})
    assert aggregate(spec, events, START, END) == 2


def test_void_and_amend_records_correct_the_original():
    original = ev(1, 1, n="5")
    amend = Event(
        "a1",
        "sub",
        "m",
        original.timestamp,
        {"n": "7"},
        corrects="e1",
        correction="amend",
        received_at=START + timedelta(days=2),
    )
    void = Event(
        "v1",
        "sub",
        "m",
        START,
        {},
        corrects="e2",
        correction="void",
        received_at=START + timedelta(days=3),
    )
    events = [original, ev(2, 2, n="100"), amend, void]
    assert [e.properties["n"] for e in effective(events)] == ["7"]
    assert aggregate(MetricSpec("m", "sum", "n"), events, START, END) == Decimal(7)


def test_a_property_that_is_not_a_number_is_an_error():
    with pytest.raises(ValueError, match="not a number"):
        aggregate(MetricSpec("m", "sum", "n"), [ev(1, 1, n="lots")], START, END)
