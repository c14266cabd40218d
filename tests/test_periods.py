"""Billing periods: month-end clamping, DST, stubs, and period lookup over many anchors."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from billing.domain.periods import (
    Cadence,
    FirstPeriod,
    Period,
    boundary,
    first_period,
    next_anchor_on_day,
    period_at,
    periods_between,
    stub_period,
)
from billing.domain.proration import remaining_days

MONTHLY = Cadence("month")
YEARLY = Cadence("year")
NEW_YORK = "America/New_York"
DAY = 86_400


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _month_days(t: datetime) -> int:
    return calendar.monthrange(t.year, t.month)[1]


def days_of(*years: int) -> list[date]:
    first, last = date(years[0], 1, 1), date(years[-1], 12, 31)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


# --- boundaries -------------------------------------------------------------------------------


def test_month_end_clamping_from_january_31_for_twelve_months():
    anchor = utc(2026, 1, 31)
    assert [boundary(anchor, MONTHLY, n) for n in range(13)] == [
        utc(2026, 1, 31),
        utc(2026, 2, 28),
        utc(2026, 3, 31),
        utc(2026, 4, 30),
        utc(2026, 5, 31),
        utc(2026, 6, 30),
        utc(2026, 7, 31),
        utc(2026, 8, 31),
        utc(2026, 9, 30),
        utc(2026, 10, 31),
        utc(2026, 11, 30),
        utc(2026, 12, 31),
        utc(2027, 1, 31),
    ]


def test_month_end_clamping_in_a_leap_year():
    assert boundary(utc(2024, 1, 31), MONTHLY, 1) == utc(2024, 2, 29)
    assert boundary(utc(2024, 1, 31), MONTHLY, 2) == utc(2024, 3, 31)


def test_leap_day_annual_anchor_for_five_years():
    anchor = utc(2024, 2, 29, 9, 30)
    assert [boundary(anchor, YEARLY, n) for n in range(1, 6)] == [
        utc(2025, 2, 28, 9, 30),
        utc(2026, 2, 28, 9, 30),
        utc(2027, 2, 28, 9, 30),
        utc(2028, 2, 29, 9, 30),
        utc(2029, 2, 28, 9, 30),
    ]


def test_boundary_zero_is_the_anchor_in_utc():
    anchor = datetime(2026, 4, 1, 2, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert boundary(anchor, MONTHLY, 0, "Europe/Berlin") == utc(2026, 4, 1)
    assert boundary(anchor, MONTHLY, 0, "Europe/Berlin").tzinfo is UTC


def test_negative_n():
    assert boundary(utc(2026, 3, 31), MONTHLY, -1) == utc(2026, 2, 28)
    assert boundary(utc(2026, 3, 31), MONTHLY, -2) == utc(2026, 1, 31)
    assert boundary(utc(2026, 3, 31), MONTHLY, -13) == utc(2025, 2, 28)
    assert boundary(utc(2024, 2, 29), YEARLY, -1) == utc(2023, 2, 28)
    assert boundary(utc(2024, 2, 29), YEARLY, -4) == utc(2020, 2, 29)
    assert boundary(utc(2026, 1, 5), Cadence("week"), -2) == utc(2025, 12, 22)
    assert boundary(utc(2026, 3, 1), Cadence("day"), -1) == utc(2026, 2, 28)


def test_weekly_cadence():
    anchor = utc(2026, 1, 5, 12)  # a Monday
    weekly = Cadence("week")
    assert [boundary(anchor, weekly, n) for n in range(4)] == [
        utc(2026, 1, 5, 12),
        utc(2026, 1, 12, 12),
        utc(2026, 1, 19, 12),
        utc(2026, 1, 26, 12),
    ]
    assert boundary(anchor, Cadence("week", 2), 3) == utc(2026, 2, 16, 12)


def test_weekly_cadence_across_dst_keeps_local_midnight():
    anchor = utc(2026, 3, 2, 5)  # Monday 00:00 EST
    weekly = Cadence("week")
    assert boundary(anchor, weekly, 1, NEW_YORK) == utc(2026, 3, 9, 4)  # Monday 00:00 EDT
    assert period_at(anchor, weekly, utc(2026, 3, 8, 12), NEW_YORK).seconds == 7 * DAY - 3600


def test_every_three_months():
    quarterly = Cadence("month", 3)
    anchor = utc(2026, 1, 31)
    assert [boundary(anchor, quarterly, n) for n in range(-3, 5)] == [
        utc(2025, 4, 30),
        utc(2025, 7, 31),
        utc(2025, 10, 31),
        utc(2026, 1, 31),
        utc(2026, 4, 30),
        utc(2026, 7, 31),
        utc(2026, 10, 31),
        utc(2027, 1, 31),
    ]
    assert period_at(anchor, quarterly, utc(2026, 6, 15)) == Period(
        utc(2026, 4, 30), utc(2026, 7, 31), 1
    )


def test_every_two_years_and_every_ten_days():
    assert boundary(utc(2024, 2, 29), Cadence("year", 2), 1) == utc(2026, 2, 28)
    assert boundary(utc(2024, 2, 29), Cadence("year", 2), 2) == utc(2028, 2, 29)
    assert boundary(utc(2026, 1, 25), Cadence("day", 10), 1) == utc(2026, 2, 4)


# --- time zones -------------------------------------------------------------------------------


def test_new_york_monthly_periods():
    anchor = utc(2026, 3, 1, 5)  # 2026-03-01 00:00 EST
    march = period_at(anchor, MONTHLY, utc(2026, 3, 15), NEW_YORK)
    assert march == Period(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), 0)
    assert march.seconds == 2_674_800  # 31 days less the hour DST took
    april = period_at(anchor, MONTHLY, utc(2026, 4, 15), NEW_YORK)
    assert april == Period(utc(2026, 4, 1, 4), utc(2026, 5, 1, 4), 1)
    assert april.seconds == 30 * DAY


def test_new_york_november_is_an_hour_longer():
    anchor = utc(2026, 4, 1, 4)  # 2026-04-01 00:00 EDT
    november = period_at(anchor, MONTHLY, utc(2026, 11, 15), NEW_YORK)
    assert november == Period(utc(2026, 11, 1, 4), utc(2026, 12, 1, 5), 7)
    assert november.seconds == 30 * DAY + 3600


def test_a_local_day_across_dst_is_23_or_25_hours():
    daily = Cadence("day")
    spring = utc(2026, 3, 7, 5)  # 2026-03-07 00:00 EST
    assert boundary(spring, daily, 1, NEW_YORK) == utc(2026, 3, 8, 5)
    assert boundary(spring, daily, 2, NEW_YORK) == utc(2026, 3, 9, 4)
    assert period_at(spring, daily, utc(2026, 3, 8, 12), NEW_YORK).seconds == 23 * 3600
    autumn = utc(2026, 10, 31, 4)  # 2026-10-31 00:00 EDT
    assert period_at(autumn, daily, utc(2026, 11, 1, 12), NEW_YORK).seconds == 25 * 3600


def test_a_wall_time_in_the_dst_gap_moves_forward_by_the_gap():
    anchor = utc(2026, 3, 7, 7, 30)  # 02:30 EST; 2026-03-08 02:30 does not exist
    daily = Cadence("day")
    assert boundary(anchor, daily, 1, NEW_YORK) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
    assert boundary(anchor, daily, 2, NEW_YORK) == utc(2026, 3, 9, 6, 30)  # 02:30 EDT


def test_an_ambiguous_wall_time_takes_its_first_occurrence():
    anchor = utc(2026, 10, 31, 5, 30)  # 01:30 EDT; 2026-11-01 01:30 happens twice
    daily = Cadence("day")
    assert boundary(anchor, daily, 1, NEW_YORK) == utc(2026, 11, 1, 5, 30)  # 01:30 EDT
    assert boundary(anchor, daily, 2, NEW_YORK) == utc(2026, 11, 2, 6, 30)  # 01:30 EST


def test_an_anchor_at_the_second_occurrence_is_still_boundary_zero():
    anchor = utc(2026, 11, 1, 6, 30)  # 01:30 EST, the second 01:30
    daily = Cadence("day")
    assert boundary(anchor, daily, 0, NEW_YORK) == anchor
    assert period_at(anchor, daily, anchor, NEW_YORK) == Period(anchor, utc(2026, 11, 2, 6, 30), 0)


def test_skipped_local_day_leaves_no_empty_period():
    # Samoa skipped 2011-12-30 when it crossed the date line: boundary 2 (Dec 30) and
    # boundary 3 (Dec 31) are the same instant, so period 2 is empty and left out.
    apia = ZoneInfo("Pacific/Apia")
    anchor = datetime(2011, 12, 28, tzinfo=apia)
    end = datetime(2012, 1, 2, tzinfo=apia)
    assert periods_between(anchor, Cadence("day"), anchor, end, "Pacific/Apia") == [
        Period(utc(2011, 12, 28, 10), utc(2011, 12, 29, 10), 0),
        Period(utc(2011, 12, 29, 10), utc(2011, 12, 30, 10), 1),
        Period(utc(2011, 12, 30, 10), utc(2011, 12, 31, 10), 3),
        Period(utc(2011, 12, 31, 10), utc(2012, 1, 1, 10), 4),
    ]
    t = datetime(2011, 12, 31, 12, tzinfo=apia)
    assert period_at(anchor, Cadence("day"), t, "Pacific/Apia").index == 3


# --- period lookup ----------------------------------------------------------------------------


def test_twenty_four_contiguous_monthly_periods():
    anchor = utc(2026, 4, 1)
    periods = periods_between(anchor, MONTHLY, anchor, utc(2028, 4, 1))
    assert len(periods) == 24
    assert [p.index for p in periods] == list(range(24))
    assert [p.start for p in periods] == [
        utc(2026 + (3 + i) // 12, (3 + i) % 12 + 1, 1) for i in range(24)
    ]
    assert periods[-1].end == utc(2028, 4, 1)
    for earlier, later in pairwise(periods):
        assert earlier.end == later.start
    assert sum(p.seconds for p in periods) == (date(2028, 4, 1) - date(2026, 4, 1)).days * DAY


def test_periods_between_covers_partial_periods_at_both_ends():
    anchor = utc(2026, 1, 15)
    periods = periods_between(anchor, MONTHLY, utc(2026, 2, 20), utc(2026, 4, 15, 0, 1))
    assert periods == [
        Period(utc(2026, 2, 15), utc(2026, 3, 15), 1),
        Period(utc(2026, 3, 15), utc(2026, 4, 15), 2),
        Period(utc(2026, 4, 15), utc(2026, 5, 15), 3),
    ]
    # An end exactly on a boundary does not reach into the next period.
    assert periods_between(anchor, MONTHLY, utc(2026, 2, 20), utc(2026, 4, 15))[-1].index == 2


def test_period_at_exact_boundaries():
    anchor = utc(2026, 4, 1)
    april = Period(utc(2026, 4, 1), utc(2026, 5, 1), 0)
    may = Period(utc(2026, 5, 1), utc(2026, 6, 1), 1)
    assert period_at(anchor, MONTHLY, anchor) == april
    assert period_at(anchor, MONTHLY, utc(2026, 5, 1) - timedelta(microseconds=1)) == april
    assert period_at(anchor, MONTHLY, utc(2026, 5, 1)) == may
    assert april.contains(utc(2026, 4, 1))
    assert not april.contains(utc(2026, 5, 1))
    assert may.contains(utc(2026, 5, 1))


def test_period_at_far_from_the_anchor():
    anchor = utc(2000, 1, 31, 12)
    assert period_at(anchor, MONTHLY, utc(2100, 3, 1)) == Period(
        utc(2100, 2, 28, 12), utc(2100, 3, 31, 12), 1201
    )
    # 36,554 calendar days on, but 00:00 is still in the day that began at 12:00 the day before.
    assert period_at(anchor, Cadence("day"), utc(2100, 3, 1)).index == 36553


def test_period_at_refuses_a_time_before_the_anchor():
    with pytest.raises(ValueError, match="before the anchor"):
        period_at(utc(2026, 4, 1), MONTHLY, utc(2026, 3, 31))


def test_period_accepts_other_offsets_and_compares_instants():
    berlin = ZoneInfo("Europe/Berlin")
    period = period_at(utc(2026, 4, 1), MONTHLY, datetime(2026, 5, 1, 1, 30, tzinfo=berlin))
    assert period.index == 0  # 01:30 in Berlin is still April in UTC
    assert period.contains(datetime(2026, 4, 1, 2, 0, tzinfo=berlin))


# --- anchoring a cycle on a day of month ------------------------------------------------------


def test_next_anchor_on_day_one_from_the_tenth():
    assert next_anchor_on_day(utc(2026, 3, 10), 1) == utc(2026, 4, 1)


def test_next_anchor_on_day_is_the_start_itself_at_exactly_that_midnight():
    assert next_anchor_on_day(utc(2026, 4, 1), 1) == utc(2026, 4, 1)
    assert next_anchor_on_day(utc(2026, 4, 1, 0, 1), 1) == utc(2026, 5, 1)
    assert next_anchor_on_day(utc(2026, 3, 31, 23, 59), 1) == utc(2026, 4, 1)
    assert next_anchor_on_day(utc(2026, 12, 5), 1) == utc(2027, 1, 1)


def test_next_anchor_on_day_31_in_short_months():
    assert next_anchor_on_day(utc(2026, 4, 10), 31) == utc(2026, 4, 30)
    assert next_anchor_on_day(utc(2026, 4, 30), 31) == utc(2026, 4, 30)
    assert next_anchor_on_day(utc(2026, 4, 30, 8), 31) == utc(2026, 5, 31)
    assert next_anchor_on_day(utc(2026, 2, 1), 31) == utc(2026, 2, 28)
    assert next_anchor_on_day(utc(2024, 2, 1), 30) == utc(2024, 2, 29)


def test_next_anchor_on_day_uses_the_local_date():
    # 2026-04-01T02:00Z is still March 31 in New York.
    assert next_anchor_on_day(utc(2026, 4, 1, 2), 1, NEW_YORK) == utc(2026, 4, 1, 4)
    assert next_anchor_on_day(utc(2026, 3, 10, 4), 1, NEW_YORK) == utc(2026, 4, 1, 4)
    assert next_anchor_on_day(utc(2026, 4, 1, 4), 1, NEW_YORK) == utc(2026, 4, 1, 4)


def test_next_anchor_on_day_where_midnight_is_skipped():
    # Santiago springs forward at midnight: 2026-09-06 begins at 01:00 (-03:00).
    santiago = "America/Santiago"
    first_instant = datetime(2026, 9, 6, 1, tzinfo=ZoneInfo(santiago))
    assert next_anchor_on_day(first_instant, 6, santiago) == first_instant
    assert next_anchor_on_day(utc(2026, 8, 20), 6, santiago) == first_instant


@pytest.mark.parametrize("day", [0, 32, -1])
def test_next_anchor_on_day_refuses_days_outside_1_to_31(day):
    with pytest.raises(ValueError, match="between 1 and 31"):
        next_anchor_on_day(utc(2026, 3, 10), day)


def test_day_31_anchor_in_a_30_day_month():
    anchor = utc(2026, 3, 31)
    assert period_at(anchor, MONTHLY, utc(2026, 4, 30)) == Period(
        utc(2026, 4, 30), utc(2026, 5, 31), 1
    )
    assert period_at(anchor, MONTHLY, utc(2026, 4, 29)) == Period(
        utc(2026, 3, 31), utc(2026, 4, 30), 0
    )


def test_stub_period_from_the_tenth_to_the_first():
    start = utc(2026, 3, 10)
    anchor = next_anchor_on_day(start, 1)
    stub, full = stub_period(start, anchor, MONTHLY)
    assert stub == Period(utc(2026, 3, 10), utc(2026, 4, 1), -1)
    assert full == Period(utc(2026, 3, 1), utc(2026, 4, 1), -1)
    assert (stub.seconds // DAY, full.seconds // DAY) == (22, 31)
    assert remaining_days(full.start, full.end, stub.start, "UTC") == (22, 31)


def test_stub_period_in_new_york_across_dst():
    start = utc(2026, 3, 10, 4)  # 2026-03-10 00:00 EDT
    stub, full = stub_period(start, utc(2026, 4, 1, 4), MONTHLY, NEW_YORK)
    assert full == Period(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), -1)
    assert (stub.seconds, full.seconds) == (22 * DAY, 2_674_800)
    assert remaining_days(full.start, full.end, stub.start, NEW_YORK) == (22, 31)


def test_stub_period_refusals():
    with pytest.raises(ValueError, match="before the anchor"):
        stub_period(utc(2026, 4, 1), utc(2026, 4, 1), MONTHLY)
    with pytest.raises(ValueError, match="within one interval"):
        stub_period(utc(2026, 2, 28), utc(2026, 4, 1), MONTHLY)
    # A stub exactly one interval long is the whole interval.
    stub, full = stub_period(utc(2026, 3, 1), utc(2026, 4, 1), MONTHLY)
    assert (stub.start, stub.end) == (full.start, full.end)


# --- validation -------------------------------------------------------------------------------


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 4, 1)
    aware = utc(2026, 4, 1)
    calls = [
        lambda: boundary(naive, MONTHLY, 1),
        lambda: period_at(naive, MONTHLY, aware),
        lambda: period_at(aware, MONTHLY, naive),
        lambda: periods_between(aware, MONTHLY, naive, utc(2026, 6, 1)),
        lambda: periods_between(aware, MONTHLY, aware, datetime(2026, 6, 1)),
        lambda: next_anchor_on_day(naive, 1),
        lambda: stub_period(datetime(2026, 3, 10), aware, MONTHLY),
        lambda: stub_period(utc(2026, 3, 10), naive, MONTHLY),
        lambda: Period(naive, utc(2026, 5, 1), 0),
        lambda: Period(aware, utc(2026, 5, 1), 0).contains(naive),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


@pytest.mark.parametrize("count", [0, -1])
def test_cadence_count_must_be_at_least_one(count):
    with pytest.raises(ValueError, match="at least 1"):
        Cadence("month", count)


def test_cadence_refuses_unknown_intervals():
    with pytest.raises(ValueError, match="interval must be one of"):
        Cadence("fortnight")  # type: ignore[arg-type]


def test_unknown_time_zone_is_refused():
    with pytest.raises(ValueError, match="not an IANA time zone"):
        boundary(utc(2026, 4, 1), MONTHLY, 1, "Mars/Olympus_Mons")


def test_empty_ranges_and_periods_are_refused():
    with pytest.raises(ValueError, match="range must end after"):
        periods_between(utc(2026, 4, 1), MONTHLY, utc(2026, 5, 1), utc(2026, 5, 1))
    with pytest.raises(ValueError, match="period must end after"):
        Period(utc(2026, 5, 1), utc(2026, 5, 1), 0)


# --- properties over many anchors -------------------------------------------------------------

CADENCES = [
    Cadence("day"),
    Cadence("week"),
    Cadence("month"),
    Cadence("month", 3),
    Cadence("year"),
]


@pytest.mark.parametrize("time_zone", ["UTC", NEW_YORK, "Australia/Lord_Howe"])
def test_monthly_boundaries_keep_the_anchor_day_without_drift(time_zone):
    zone = ZoneInfo(time_zone)
    for day in days_of(2024, 2025):
        anchor = datetime(day.year, day.month, day.day, 0, 0, tzinfo=zone)
        for n in range(-13, 25):
            local = boundary(anchor, MONTHLY, n, time_zone).astimezone(zone)
            months = day.year * 12 + day.month - 1 + n
            expected_month = date(months // 12, months % 12 + 1, 1)
            assert (local.year, local.month) == (expected_month.year, expected_month.month)
            last_day = (expected_month.replace(day=28) + timedelta(days=4)).replace(day=1)
            assert local.day == min(day.day, (last_day - timedelta(days=1)).day)


@pytest.mark.parametrize("time_zone", ["UTC", NEW_YORK])
@pytest.mark.parametrize("cadence", CADENCES, ids=lambda c: f"{c.count}-{c.interval}")
def test_period_at_contains_t_for_every_anchor_in_2024_and_2025(cadence, time_zone):
    zone = ZoneInfo(time_zone)
    offsets = [timedelta(0), timedelta(hours=13, minutes=7), timedelta(days=40, hours=23)]
    for day in days_of(2024, 2025):
        anchor = datetime(day.year, day.month, day.day, 0, 30, tzinfo=zone)
        for offset in [*offsets, timedelta(days=400), timedelta(days=1000, seconds=1)]:
            t = anchor + offset
            period = period_at(anchor, cadence, t, time_zone)
            assert period.contains(t)
            assert period.start == boundary(anchor, cadence, period.index, time_zone)
            assert period.end == boundary(anchor, cadence, period.index + 1, time_zone)
            assert period_at(anchor, cadence, period.start, time_zone) == period
            if period.index > 0:
                just_before = period.start - timedelta(microseconds=1)
                before = period_at(anchor, cadence, just_before, time_zone)
                assert (before.index, before.end) == (period.index - 1, period.start)


@pytest.mark.parametrize("time_zone", ["UTC", NEW_YORK])
@pytest.mark.parametrize("cadence", CADENCES, ids=lambda c: f"{c.count}-{c.interval}")
def test_consecutive_periods_are_contiguous_for_every_anchor_in_2024_and_2025(cadence, time_zone):
    zone = ZoneInfo(time_zone)
    horizon = {"day": 45, "week": 200, "month": 800, "year": 2000}[cadence.interval]
    for day in days_of(2024, 2025):
        anchor = datetime(day.year, day.month, day.day, 0, 0, tzinfo=zone)
        periods = periods_between(
            anchor, cadence, anchor, anchor + timedelta(days=horizon), time_zone
        )
        assert periods[0].start == anchor
        assert [p.index for p in periods] == list(range(len(periods)))
        for earlier, later in pairwise(periods):
            assert earlier.end == later.start
        assert periods[-1].end >= anchor + timedelta(days=horizon)


@pytest.mark.parametrize("cadence", CADENCES, ids=lambda c: f"{c.count}-{c.interval}")
def test_stub_over_its_full_interval_for_every_start_in_2025(cadence):
    for day in days_of(2025):
        start = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        if cadence.interval in {"day", "week"}:
            anchor = datetime.combine(day + timedelta(days=1), time(), ZoneInfo(NEW_YORK))
        else:
            anchor = next_anchor_on_day(start, 1 + day.toordinal() % 31, NEW_YORK)
        stub, full = stub_period(start, anchor, cadence, NEW_YORK)
        assert stub.end == full.end == anchor
        assert full.start <= stub.start
        assert 0 < stub.seconds <= full.seconds


def test_day_anchor_keeps_the_31st_after_a_clamped_first_boundary():
    from billing.domain.periods import day_anchor

    first = next_anchor_on_day(datetime(2026, 4, 10, tzinfo=UTC), 31)
    assert first == datetime(2026, 4, 30, tzinfo=UTC)
    anchor = day_anchor(first, 31)
    assert anchor == datetime(2026, 3, 31, tzinfo=UTC)
    monthly = Cadence("month")
    ends = [boundary(anchor, monthly, n).date().isoformat() for n in range(1, 5)]
    assert ends == ["2026-04-30", "2026-05-31", "2026-06-30", "2026-07-31"]


# --- the first period: full, to a day of month, or aligned to another cycle -------------------


def test_first_period_without_an_anchor_day_is_a_full_period():
    first = first_period(utc(2026, 3, 10), MONTHLY)
    assert first == FirstPeriod(utc(2026, 3, 10), Period(utc(2026, 3, 10), utc(2026, 4, 10), 0))


def test_first_period_to_the_first_is_a_stub_over_march():
    first = first_period(utc(2026, 3, 10), MONTHLY, day_of_month=1)
    assert first.anchor == utc(2026, 4, 1)
    assert first.period == Period(utc(2026, 3, 10), utc(2026, 4, 1), -1)
    assert first.full == Period(utc(2026, 3, 1), utc(2026, 4, 1), -1)  # 22 of 31 days


def test_first_period_to_the_31st_from_april_keeps_month_ends():
    first = first_period(utc(2026, 4, 10), MONTHLY, day_of_month=31)
    assert first.anchor == utc(2026, 3, 31)  # so May ends on the 31st, not the 30th
    assert first.period == Period(utc(2026, 4, 10), utc(2026, 4, 30), 0)
    assert first.full == Period(utc(2026, 3, 31), utc(2026, 4, 30), 0)  # 20 of 30 days
    assert boundary(first.anchor, MONTHLY, 2) == utc(2026, 5, 31)


def test_first_period_starting_on_a_clamped_31st_is_full_and_returns_to_the_31st():
    # Apr 30 is "day 31" in April: no stub, and the period runs to May 31.
    first = first_period(utc(2026, 4, 30), MONTHLY, day_of_month=31)
    assert first == FirstPeriod(utc(2026, 3, 31), Period(utc(2026, 4, 30), utc(2026, 5, 31), 1))


def test_first_period_yearly_to_a_day_of_month_is_a_stub_over_a_year():
    first = first_period(utc(2026, 3, 10), YEARLY, day_of_month=15)
    assert first.period == Period(utc(2026, 3, 10), utc(2026, 3, 15), -1)
    assert first.full == Period(utc(2025, 3, 15), utc(2026, 3, 15), -1)  # 5 of 365 days
    assert boundary(first.anchor, YEARLY, 1) == utc(2027, 3, 15)


def test_first_period_aligned_to_a_base_ends_with_the_base_period():
    first = first_period(utc(2026, 3, 11), MONTHLY, align_to=utc(2026, 3, 1))
    assert first.anchor == utc(2026, 3, 1)
    assert first.period == Period(utc(2026, 3, 11), utc(2026, 4, 1), 0)
    assert first.full == Period(utc(2026, 3, 1), utc(2026, 4, 1), 0)  # 21 of 31 days


def test_first_period_aligned_to_a_base_on_the_31st_keeps_its_month_ends():
    first = first_period(utc(2026, 4, 10), MONTHLY, align_to=utc(2026, 1, 31))
    assert first.anchor == utc(2026, 1, 31)
    assert first.period == Period(utc(2026, 4, 10), utc(2026, 4, 30), 2)
    assert first.full == Period(utc(2026, 3, 31), utc(2026, 4, 30), 2)  # 20 of 30 days
    assert boundary(first.anchor, MONTHLY, 4) == utc(2026, 5, 31)


def test_first_period_aligned_on_a_base_boundary_is_a_full_period():
    first = first_period(utc(2026, 4, 1), MONTHLY, align_to=utc(2026, 3, 1))
    assert first == FirstPeriod(utc(2026, 3, 1), Period(utc(2026, 4, 1), utc(2026, 5, 1), 1))


def test_first_period_aligned_takes_its_own_cadence_from_the_base_anchor():
    # A monthly add-on on a yearly base anchored 2026-03-15 ends its periods on the 15th.
    first = first_period(utc(2026, 7, 2), MONTHLY, align_to=utc(2026, 3, 15))
    assert first.period == Period(utc(2026, 7, 2), utc(2026, 7, 15), 3)
    assert first.full == Period(utc(2026, 6, 15), utc(2026, 7, 15), 3)  # 13 of 30 days


def test_first_period_aligned_before_the_base_anchor_anchors_on_that_boundary():
    # Weekly from an anchor two weeks later: the first boundary (Mar 15) is before it, so it
    # becomes the anchor and every renewal is at or after the anchor.
    first = first_period(utc(2026, 3, 10), Cadence("week"), align_to=utc(2026, 3, 29))
    assert first.anchor == utc(2026, 3, 15)
    assert first.period == Period(utc(2026, 3, 10), utc(2026, 3, 15), -1)
    assert first.full == Period(utc(2026, 3, 8), utc(2026, 3, 15), -1)  # 5 of 7 days


def test_first_period_in_new_york_to_the_first():
    first = first_period(utc(2026, 3, 10, 4), MONTHLY, NEW_YORK, day_of_month=1)
    assert first.period == Period(utc(2026, 3, 10, 4), utc(2026, 4, 1, 4), -1)
    assert first.full == Period(utc(2026, 3, 1, 5), utc(2026, 4, 1, 4), -1)  # 22 of 31 days


def test_first_period_refusals():
    with pytest.raises(ValueError, match="not both"):
        first_period(utc(2026, 3, 10), MONTHLY, day_of_month=1, align_to=utc(2026, 3, 1))
    with pytest.raises(ValueError, match="within one interval"):
        first_period(utc(2026, 3, 10), Cadence("week"), day_of_month=1)  # 22 days of a week
    with pytest.raises(ValueError, match="timezone-aware"):
        first_period(datetime(2026, 3, 10), MONTHLY)


@pytest.mark.parametrize("cadence", [MONTHLY, YEARLY, Cadence("month", 3)], ids=str)
def test_first_period_to_every_day_of_month_from_every_start_in_2025(cadence):
    for day in days_of(2025):
        start = datetime(day.year, day.month, day.day, 15, tzinfo=UTC)
        bcd = 1 + day.toordinal() % 31
        first = first_period(start, cadence, NEW_YORK, day_of_month=bcd)
        assert first.period.start == start
        assert first.period.end == boundary(first.anchor, cadence, first.period.index + 1, NEW_YORK)
        local_end = first.period.end.astimezone(ZoneInfo(NEW_YORK))
        assert local_end.time() == time()
        assert local_end.day == min(bcd, _month_days(local_end))
        assert first.full is not None and first.full.start <= start < first.full.end
