"""Billable metrics over plain events, exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from billing.domain.metering import Event, MetricSpec, aggregate, effective, groups
from billing.domain.money import MONEY_CONTEXT

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
    with pytest.raises(ValueError, match="property 'n' of event e1"):
        aggregate(MetricSpec("m", "sum", "n"), [ev(1, 1, n="lots")], START, END)


# --- levels that carry (time_weighted_sum, latest_ever) ---------------------------------------

STORAGE = MetricSpec("m", "time_weighted_sum", "gb")


def before(i: int, days: int, metric: str = "m", **props: str) -> Event:
    """An event `days` before the period start."""
    return Event(f"b{i}", "sub", metric, START - timedelta(days=days), props)


def test_a_level_reported_before_the_period_carries_into_it():
    # 10 GB reported on 22 March, nothing in April: 10 GB all month, 10 GB-months.
    assert aggregate(STORAGE, [before(1, 10, gb="10")], START, END) == Decimal(10)


def test_a_carried_level_holds_until_the_period_changes_it():
    # 10 GB carried for the first 15 of April's 30 days, then 30 GB: (10*15 + 30*15)/30 = 20.
    events = [before(1, 40, gb="50"), before(2, 10, gb="10"), ev(3, 15, gb="30")]
    assert aggregate(STORAGE, events, START, END) == Decimal(20)


def test_the_carried_level_is_the_latest_as_corrected_and_filtered():
    voided = Event("v", "sub", "m", START, {}, "b3", "void", START)
    amended = Event("a", "sub", "m", START, {"gb": "12"}, "b2", "amend", START)
    events = [
        before(1, 30, gb="5"),
        before(2, 20, gb="10"),  # amended to 12: the level carried
        before(3, 10, gb="99"),  # voided: never a level
        before(4, 5, gb="77", region="us"),  # filtered out below
        voided,
        amended,
    ]
    spec = MetricSpec("m", "time_weighted_sum", "gb", filters={"region": ""})
    assert aggregate(spec, events, START, END) == Decimal(12)


def test_a_group_with_only_a_carried_level_is_still_a_group():
    spec = MetricSpec("m", "time_weighted_sum", "gb", group_by=("region",))
    events = [before(1, 3, gb="10", region="eu"), ev(2, 15, gb="4", region="us")]
    found = groups(spec, events, START, END)
    assert sorted(found) == [("eu",), ("us",)]
    assert [e.id for e in found[("eu",)]] == ["b1"]


def test_latest_ever_carries_the_last_value_into_a_period_without_events():
    spec = MetricSpec("m", "latest_ever", "n")
    carried = [before(1, 40, n="2"), before(2, 10, n="3")]
    assert aggregate(spec, carried, START, END) == Decimal(3)
    # Events in the period win: the last of them.
    assert aggregate(spec, [*carried, ev(3, 5, n="7"), ev(4, 9, n="6")], START, END) == 6
    assert aggregate(spec, [], START, END) == 0  # nothing ever reported


def test_latest_carries_nothing():
    assert aggregate(MetricSpec("m", "latest", "n"), [before(1, 10, n="3")], START, END) == 0


def test_other_aggregations_ignore_events_before_the_period():
    events = [before(1, 1, n="5"), ev(2, 1, n="2")]
    assert aggregate(MetricSpec("m", "sum", "n"), events, START, END) == 2
    assert aggregate(MetricSpec("m", "count"), events, START, END) == 1


# --- exact seconds and sums ---------------------------------------------------------------------

# The widest period a datetime holds: 1 January of year 1 to 1 January 10000 less 1 µs.
# 3,652,059 days * 86,400 = 315,537,897,600 s, less 1 µs: 315,537,897,599 whole seconds. A float
# has about 6e-5 s of resolution at that size, so total_seconds() rounds the 0.999999 s up.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_time_weighted_seconds_are_counted_exactly_on_a_long_period():
    # 1 GB from 1 April 2026 (739,706 days after the start): 3,652,059 - 739,706 = 2,912,353
    # days = 251,627,299,200 s, less the 1 µs: 251,627,299,199 of 315,537,897,599 seconds.
    # Through float: 251,627,299,200 / 315,537,897,600, a different number.
    events = [Event("e", "sub", "m", datetime(2026, 4, 1, tzinfo=UTC), {"gb": "1"})]
    expected = MONEY_CONTEXT.divide(Decimal(251_627_299_199), Decimal(315_537_897_599))
    assert aggregate(STORAGE, events, EARLIEST, LATEST) == expected


def test_a_level_counts_from_the_whole_second_it_was_reported_in():
    # A 10 s period, 10 GB reported at 0.5 s. Seconds count from the period start, whole ones:
    # the level holds for all 10 seconds, so 10 (the float path dropped a second: 9).
    start = datetime(2026, 4, 1, tzinfo=UTC)
    events = [Event("e", "sub", "m", start + timedelta(milliseconds=500), {"gb": "10"})]
    assert aggregate(STORAGE, events, start, start + timedelta(seconds=10)) == 10


def test_sums_keep_the_money_context_digits():
    # 10^15 + 10^-18 needs 34 digits; the default context keeps 28 and drops the 10^-18.
    events = [ev(1, 1, n="1000000000000000"), ev(2, 2, n="0.000000000000000001")]
    spec = MetricSpec("m", "sum", "n")
    assert aggregate(spec, events, START, END) == Decimal("1000000000000000.000000000000000001")


def test_a_zero_second_period_has_zero_time_weighted_usage():
    carried_in = [Event("e0", "sub", "m", START - timedelta(days=3), {"gb": "7"})]
    spec = MetricSpec("m", "time_weighted_sum", "gb")
    assert aggregate(spec, carried_in, START, START) == 0
    assert aggregate(spec, carried_in, START, START + timedelta(milliseconds=500)) == 0
