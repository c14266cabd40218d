"""Proration factors counted in whole seconds and days, as exact integers."""

from __future__ import annotations

from datetime import UTC, datetime

from billing.domain.proration import remaining_seconds

# The widest period a datetime holds: 1 January of year 1 to 1 January 10000 less 1 µs.
EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_seconds_are_whole_and_exact_on_a_long_period():
    # 3,652,059 days * 86,400 = 315,537,897,600 s, less 1 µs: 315,537,897,599 whole seconds.
    # From 1 April 2026 (739,706 days in): 2,912,353 days = 251,627,299,200 s, less 1 µs.
    # A float resolves about 6e-5 s at that size, so total_seconds() rounded both up by one.
    change = datetime(2026, 4, 1, tzinfo=UTC)
    assert remaining_seconds(EARLIEST, LATEST, change) == (251_627_299_199, 315_537_897_599)


def test_a_fraction_of_a_second_is_dropped_not_rounded():
    # 10.75 s remain of a 20.25 s period: 10 of 20 whole seconds.
    start = datetime(2026, 4, 1, tzinfo=UTC)
    end = datetime(2026, 4, 1, 0, 0, 20, 250000, tzinfo=UTC)
    change = datetime(2026, 4, 1, 0, 0, 9, 500000, tzinfo=UTC)
    assert remaining_seconds(start, end, change) == (10, 20)
