"""The pure dunning timeline (domain/dunning.py, ADR 0043 "A case"): `retry_instants` and
`next_event`, with hand-computed instants. A retry runs at `at` on the local day its offset
lands in the customer's zone (so across a DST change it keeps the wall-clock time, not the
UTC one), moves off weekends when asked, and always comes strictly after the one before; at
one instant a retry comes before a step; a pause shifts everything; a spent timeline has no
next event."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from billing.domain.dunning import (
    Action,
    CaseStatus,
    DunningCase,
    DunningPolicy,
    DunningStep,
    EventKind,
    NextEvent,
    RetrySchedule,
    next_event,
    retry_instants,
)

DAY = timedelta(days=1)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def days(*counts: int) -> tuple[timedelta, ...]:
    return tuple(timedelta(days=n) for n in counts)


def case(started: str, zone: str = "UTC", **fields: object) -> DunningCase:
    opened = DunningCase(
        id="dun_01",
        customer_id="cus_01",
        invoice_id="inv_01",
        subscription_id="sub_01",
        clock_id=None,
        policy="p",
        rule_set="h",
        status=CaseStatus.ACTIVE,
        started_at=utc(started),
        amount_minor=5000,
        currency="USD",
        time_zone=zone,
    )
    return replace(opened, **fields)  # type: ignore[arg-type]


# --- retry_instants: time of day, zones, weekends ---------------------------------------------


def test_retries_keep_the_local_time_of_day_across_a_dst_change() -> None:
    # New York springs forward on Sunday 2026-03-08: 10:00 is 15:00Z before, 14:00Z after.
    schedule = RetrySchedule(after=days(1, 3), at=time(10, 0))
    base = utc("2026-03-06T15:00")  # Friday 10:00 EST
    assert retry_instants(schedule, base, ZoneInfo("America/New_York")) == (
        utc("2026-03-07T15:00"),  # Saturday 10:00 EST
        utc("2026-03-09T14:00"),  # Monday 10:00 EDT
    )
    # Without `at` an offset is an exact span: 3 days later is 11:00 EDT on Monday.
    exact = RetrySchedule(after=days(1, 3))
    assert retry_instants(exact, base, ZoneInfo("America/New_York")) == (
        utc("2026-03-07T15:00"),
        utc("2026-03-09T15:00"),
    )


def test_a_time_the_clocks_skip_or_repeat_is_read_before_the_change() -> None:
    # 02:30 does not exist on 2026-03-08 in New York; read with the offset before the jump
    # (EST), it is 07:30Z, 03:30 EDT on the wall. 01:30 happens twice on 2026-11-01: the first.
    skipped = RetrySchedule(after=days(1), at=time(2, 30))
    assert retry_instants(skipped, utc("2026-03-07T12:00"), ZoneInfo("America/New_York")) == (
        utc("2026-03-08T07:30"),
    )
    repeated = RetrySchedule(after=days(1), at=time(1, 30))
    assert retry_instants(repeated, utc("2026-10-31T12:00"), ZoneInfo("America/New_York")) == (
        utc("2026-11-01T05:30"),  # 01:30 EDT; the second 01:30 (EST) would be 06:30Z
    )


def test_the_day_is_the_customers_local_day() -> None:
    # 23:30Z on Monday 5 January is already Tuesday 08:30 in Tokyo: one day later is Wednesday,
    # at 10:00 Tokyo = 01:00Z on Wednesday 7 January.
    schedule = RetrySchedule(after=days(1), at=time(10, 0))
    assert retry_instants(schedule, utc("2026-01-05T23:30"), ZoneInfo("Asia/Tokyo")) == (
        utc("2026-01-07T01:00"),
    )
    # In UTC the same start is Monday: one day later is Tuesday 10:00Z.
    assert retry_instants(schedule, utc("2026-01-05T23:30"), ZoneInfo("UTC")) == (
        utc("2026-01-06T10:00"),
    )


def test_weekends_are_skipped_only_when_asked() -> None:
    friday = utc("2026-01-09T09:00")
    zone = ZoneInfo("UTC")
    weekdays = RetrySchedule(after=days(1, 3), at=time(10, 0), skip_weekends=True)
    assert retry_instants(weekdays, friday, zone) == (
        utc("2026-01-12T10:00"),  # Saturday -> Monday
        utc("2026-01-13T10:00"),  # Monday, taken by the first -> Tuesday (see below)
    )
    any_day = RetrySchedule(after=days(1, 3), at=time(10, 0))
    assert retry_instants(any_day, friday, zone) == (
        utc("2026-01-10T10:00"),  # Saturday
        utc("2026-01-12T10:00"),  # Monday
    )
    # Without `at`, a skipped retry keeps its time of day.
    exact = RetrySchedule(after=days(1), skip_weekends=True)
    assert retry_instants(exact, friday, zone) == (utc("2026-01-12T09:00"),)


def test_two_retries_pushed_to_the_same_monday_run_on_monday_and_tuesday() -> None:
    friday = utc("2026-01-09T16:00")
    zone = ZoneInfo("Europe/Paris")  # CET: 10:00 is 09:00Z
    schedule = RetrySchedule(after=days(1, 2, 3), at=time(10, 0), skip_weekends=True)
    assert retry_instants(schedule, friday, zone) == (
        utc("2026-01-12T09:00"),  # Saturday -> Monday
        utc("2026-01-13T09:00"),  # Sunday -> Monday, taken -> Tuesday
        utc("2026-01-14T09:00"),  # Monday, before Tuesday's -> Wednesday
    )
    # A push onto Friday that lands on the weekend goes on to Monday.
    thursday = utc("2026-01-08T16:00")
    late = RetrySchedule(after=days(1, 1), at=time(10, 0), skip_weekends=True)
    assert retry_instants(late, thursday, zone) == (
        utc("2026-01-09T09:00"),  # Friday
        utc("2026-01-12T09:00"),  # Friday again, taken -> Saturday -> Monday
    )


# --- next_event: the order of events ------------------------------------------------------------


def test_at_one_instant_a_retry_comes_before_a_step() -> None:
    policy = DunningPolicy(
        name="p",
        retries=RetrySchedule(after=days(1)),
        steps=(
            DunningStep(timedelta(0), Action.NOTICE, "payment_failed"),
            DunningStep(DAY, Action.MARK_PAST_DUE),
        ),
    )
    start = "2026-01-05T09:00"
    assert next_event(policy, case(start)) == NextEvent(utc(start), EventKind.STEP, 0)
    tied = case(start, steps_done=1)
    assert next_event(policy, tied) == NextEvent(utc("2026-01-06T09:00"), EventKind.RETRY, 0)
    retried = case(start, steps_done=1, retries_done=1)
    assert next_event(policy, retried) == NextEvent(utc("2026-01-06T09:00"), EventKind.STEP, 1)


def test_an_earlier_step_comes_before_a_later_retry_and_the_other_way_round() -> None:
    policy = DunningPolicy(
        name="p",
        retries=RetrySchedule(after=days(2, 5)),
        steps=(DunningStep(days(3)[0], Action.MARK_PAST_DUE),),
    )
    start = "2026-01-05T09:00"
    assert next_event(policy, case(start)) == NextEvent(utc("2026-01-07T09:00"), EventKind.RETRY, 0)
    assert next_event(policy, case(start, retries_done=1)) == NextEvent(
        utc("2026-01-08T09:00"), EventKind.STEP, 0
    )
    assert next_event(policy, case(start, retries_done=1, steps_done=1)) == NextEvent(
        utc("2026-01-10T09:00"), EventKind.RETRY, 1
    )


def test_a_pause_shifts_retries_and_steps_by_the_time_paused() -> None:
    policy = DunningPolicy(
        name="p",
        retries=RetrySchedule(after=days(1), at=time(10, 0), skip_weekends=True),
        steps=(DunningStep(days(5)[0], Action.SUSPEND),),
    )
    shifted = case("2026-01-05T09:00", shift=timedelta(days=2, hours=3))  # base Wed 12:00Z
    assert next_event(policy, shifted) == NextEvent(utc("2026-01-08T10:00"), EventKind.RETRY, 0)
    assert next_event(policy, replace(shifted, retries_done=1)) == NextEvent(
        utc("2026-01-12T12:00"), EventKind.STEP, 0
    )
    # Without the pause the retry would have been on Tuesday and the step on Saturday.
    unshifted = case("2026-01-05T09:00")
    assert next_event(policy, unshifted) == NextEvent(utc("2026-01-06T10:00"), EventKind.RETRY, 0)
    assert next_event(policy, replace(unshifted, retries_done=1)) == NextEvent(
        utc("2026-01-10T09:00"), EventKind.STEP, 0
    )
    # A shift that moves a retry onto a Saturday moves it on to Monday.
    into_weekend = replace(unshifted, shift=timedelta(days=4))  # base Friday 09:00Z
    assert next_event(policy, into_weekend) == NextEvent(
        utc("2026-01-12T10:00"), EventKind.RETRY, 0
    )


def test_a_hard_decline_leaves_only_the_steps() -> None:
    policy = DunningPolicy(
        name="p",
        retries=RetrySchedule(after=days(1, 3)),
        steps=(DunningStep(days(7)[0], Action.CANCEL_NOW),),
    )
    stopped = case("2026-01-05T09:00", retries_stopped=True)
    assert next_event(policy, stopped) == NextEvent(utc("2026-01-12T09:00"), EventKind.STEP, 0)
    assert next_event(policy, replace(stopped, steps_done=1)) is None


def test_a_spent_timeline_has_no_next_event() -> None:
    policy = DunningPolicy(
        name="p",
        retries=RetrySchedule(after=days(1, 3)),
        steps=(DunningStep(timedelta(0), Action.NOTICE, "payment_failed"),),
    )
    start = "2026-01-05T09:00"
    assert next_event(policy, case(start, retries_done=2, steps_done=1)) is None
    assert next_event(policy, case(start, retries_done=1, steps_done=1)) == NextEvent(
        utc("2026-01-08T09:00"), EventKind.RETRY, 1
    )
    assert next_event(DunningPolicy(name="empty"), case(start)) is None
