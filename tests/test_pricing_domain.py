"""Tier math (block sizes and prorated usage included) and proration factors, exact to the
digit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, localcontext

import pytest

from billing.domain.metering import Event, MetricSpec
from billing.domain.pricing import (
    graduated,
    graduated_percentage,
    package,
    per_unit,
    percentage,
    volume,
)
from billing.domain.prorated_usage import (
    LevelSpan,
    ProratedUsage,
    level_usage,
    prorated_graduated,
    prorated_per_unit,
    prorated_volume,
)
from billing.domain.proration import remaining_days, remaining_seconds


@dataclass(frozen=True)
class T:
    up_to: int | None
    unit_amount: Decimal
    flat_amount: Decimal | None = None
    block_size: int | None = None


D = Decimal
TIERS = (T(100, D("1.00"), D("10.00")), T(200, D("0.50")), T(None, D("0.10")))


def test_graduated_with_a_flat_fee_on_the_first_tier():
    priced = graduated(D(250), TIERS)
    assert priced.amount == D("165.00")  # 10.00 + 100.00 + 50.00 + 5.00
    assert [(s.quantity, s.amount) for s in priced.steps] == [
        (D(100), D("110.00")),
        (D(100), D("50.00")),
        (D(50), D("5.00")),
    ]
    assert priced.steps[0].description == "units 1 to 100"
    assert priced.steps[2].description == "units 201 and up"


def test_graduated_up_to_100_then_half():
    tiers = (T(100, D("1.00")), T(None, D("0.50")))
    assert graduated(D(150), tiers).amount == D("125.00")
    assert graduated(D(100), tiers).amount == D("100.00")
    assert graduated(D(101), tiers).amount == D("100.50")


@pytest.mark.parametrize(("at_zero", "amount"), [(False, D(0)), (True, D("10.00"))])
def test_first_tier_flat_fee_at_zero_usage_is_a_rule(at_zero, amount):
    assert graduated(D(0), TIERS, flat_fee_at_zero=at_zero).amount == amount


def test_volume_prices_every_unit_at_the_tier_reached():
    assert volume(D(250), TIERS).amount == D("25.00")
    assert volume(D(100), TIERS).amount == D("110.00")  # 100 x 1.00 + flat 10.00
    assert volume(D(0), TIERS).amount == D(0)


def test_per_unit_keeps_sub_cent_precision():
    assert per_unit(D(1234567), D("0.0004")).amount == D("493.8268")


def test_day_proration_counts_the_change_date_for_the_new_plan():
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    assert remaining_days(start, end, datetime(2026, 4, 16, 15, tzinfo=UTC), "UTC") == (15, 30)


def test_second_proration_across_a_dst_change():
    start = datetime(2026, 3, 1, 5, tzinfo=UTC)  # New York midnight, EST
    end = datetime(2026, 4, 1, 4, tzinfo=UTC)  # New York midnight, EDT
    num, den = remaining_seconds(start, end, datetime(2026, 3, 16, 12, tzinfo=UTC))
    assert den == 2_674_800  # 31 days less the hour lost to DST
    assert (num, den) == (1_353_600, 2_674_800)


def test_change_outside_the_period_is_refused():
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="within the period"):
        remaining_seconds(start, end, datetime(2026, 5, 2, tzinfo=UTC))


# -- sums in the money context ----------------------------------------------------------


def test_tier_sums_keep_38_digits():
    # 10^18 for the first unit plus 10^-12 for the second: 31 significant digits, which the
    # default context (28) would round away.
    tiers = (T(1, D("1000000000000000000")), T(None, D("0.000000000001")))
    assert graduated(D(2), tiers).amount == D("1000000000000000000.000000000001")


@dataclass(frozen=True)
class PT:
    up_to: Decimal | None
    rate: Decimal
    flat_amount: Decimal | None = None


def test_pricing_ignores_the_ambient_decimal_context():
    """Every sum runs in MONEY_CONTEXT: a caller's 3-digit context changes nothing."""
    with localcontext() as ambient:
        ambient.prec = 3
        # 110.01 + 50.02 + 0.01
        tiered = graduated(D(3), (T(1, D("110.01")), T(2, D("50.02")), T(None, D("0.01"))))
        # 1234 units beyond 100 free: 12 packages of 100 and a started one, 13 x 1.01
        packaged = package(D(1334), 100, D("1.01"), free_units=100)
        # 1% of 1234.56 and of 2345.67: 12.3456 + 23.4567
        fees = percentage((D("1234.56"), D("2345.67")), D(1))
        # volume 3580.23 at 1%
        volumes = graduated_percentage((D("1234.56"), D("2345.67")), (PT(None, D(1)),))
    assert tiered.amount == D("160.04")
    assert packaged.amount == D("13.13")
    assert fees.amount == D("35.8023")
    assert volumes.amount == D("35.8023")


# -- block sizes on tiers ---------------------------------------------------------------

BLOCKS = (T(1000, D("5.00"), block_size=100), T(None, D("4.00"), block_size=100))


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        (D(0), D(0)),
        (D(1), D("5.00")),  # one unit starts a block
        (D(250), D("15.00")),  # 3 started blocks of 100 at 5.00
        (D(300), D("15.00")),
        (D("300.5"), D("20.00")),  # half a unit starts the 4th block
        (D(1000), D("50.00")),  # 10 blocks
        (D(1001), D("54.00")),  # 10 x 5.00, then 1 unit starts a block of the second tier
        (D(1250), D("62.00")),  # 50.00 + 3 blocks x 4.00
    ],
)
def test_graduated_tiers_price_started_blocks(quantity, amount):
    assert graduated(quantity, BLOCKS).amount == amount


def test_a_block_step_counts_blocks():
    priced = graduated(D(1250), BLOCKS)
    assert [(s.description, s.quantity, s.unit_amount, s.amount) for s in priced.steps] == [
        ("units 1 to 1000: 1000 units in 10 blocks of 100", D(10), D("5.00"), D("50.00")),
        ("units 1001 and up: 250 units in 3 blocks of 100", D(3), D("4.00"), D("12.00")),
    ]


def test_blocks_mix_with_unit_priced_tiers_and_flat_amounts():
    tiers = (T(100, D("1.00"), D("10.00")), T(None, D("2.00"), block_size=50))
    assert graduated(D(100), tiers).amount == D("110.00")
    assert graduated(D(101), tiers).amount == D("112.00")  # 110.00 + 1 block x 2.00
    assert graduated(D(250), tiers).amount == D("116.00")  # 110.00 + 3 blocks x 2.00
    assert volume(D(250), tiers).amount == D("10.00")  # 5 blocks of 50 x 2.00, no flat


@pytest.mark.parametrize(
    ("quantity", "amount"),
    [
        (D(0), D(0)),
        (D(250), D("15.00")),  # the first tier: 3 blocks x 5.00
        (D(1000), D("50.00")),
        (D(1001), D("44.00")),  # the second tier for all units: 11 blocks x 4.00
    ],
)
def test_volume_tiers_price_started_blocks_of_all_units(quantity, amount):
    assert volume(quantity, BLOCKS).amount == amount


def test_a_block_size_below_one_is_refused():
    with pytest.raises(ValueError, match="block_size"):
        graduated(D(10), (T(None, D(1), block_size=0),))


# -- prorated usage (seats) -------------------------------------------------------------
# April 2026, 30 days: 8 seats from the 1st, 12 from the 16th, 10 from the 26th.
DAY_S = 86_400
APRIL = 30 * DAY_S
SEATS = ProratedUsage(
    (LevelSpan(15 * DAY_S, D(8)), LevelSpan(10 * DAY_S, D(12)), LevelSpan(5 * DAY_S, D(10))),
    APRIL,
)
SEAT_TIERS = (T(10, D("10.00")), T(None, D("8.00")))


def test_prorated_units_weigh_each_unit_by_the_time_it_existed():
    assert SEATS.full_units == D(12)  # the peak: every seat that existed counts in full
    # (15 x 8 + 10 x 12 + 5 x 10) seat-days / 30 days = 290 / 30
    assert SEATS.prorated_units == D("9.6666666666666666666666666666666666667")


def test_prorated_per_unit():
    # 290 seat-days x 10.00 / 30 = 96.666..., 96.67 once rounded
    priced = prorated_per_unit(SEATS, D("10.00"))
    assert round(priced.amount, 2) == D("96.67")


def test_prorated_graduated_fills_the_tiers_with_the_longest_lived_units_first():
    # Seats 1-10: 15 days x 8 + 10 days x 10 + 5 days x 10 = 270 seat-days = 9 seats x 10.00
    # Seats 11-12: 10 days x 2 = 20 seat-days = 0.666... seats x 8.00 = 5.333...
    priced = prorated_graduated(SEATS, SEAT_TIERS)
    assert [round(s.amount, 4) for s in priced.steps] == [D("90.0000"), D("5.3333")]
    assert round(priced.amount, 2) == D("95.33")
    assert priced.steps[0].quantity == D(9)
    assert priced.steps[0].description == "units 1 to 10, prorated"


def test_prorated_volume_chooses_the_tier_from_full_units():
    # 12 seats at the peak: every prorated seat at the second tier's 8.00; 290/30 x 8.00
    priced = prorated_volume(SEATS, SEAT_TIERS)
    assert round(priced.amount, 2) == D("77.33")
    # a plain volume price on the average (9.67 seats) would stay in the first tier
    assert round(volume(SEATS.prorated_units, SEAT_TIERS).amount, 2) == D("96.67")


def test_prorated_flat_amounts_are_not_prorated():
    tiers = (T(10, D("10.00"), D("20.00")), T(None, D("8.00"), D("5.00")))
    # graduated: 90.00 + 20.00 (tier 1 reached) + 5.333... + 5.00 (tier 2 reached at 12)
    assert round(prorated_graduated(SEATS, tiers).amount, 2) == D("120.33")
    # volume: 77.333... + the second tier's 5.00
    assert round(prorated_volume(SEATS, tiers).amount, 2) == D("82.33")


def test_a_seat_for_half_the_period_costs_half():
    half = ProratedUsage((LevelSpan(15 * DAY_S, D(0)), LevelSpan(15 * DAY_S, D(1))), APRIL)
    assert prorated_per_unit(half, D("10.00")).amount == D("5.00")
    assert prorated_graduated(half, SEAT_TIERS).amount == D("5.00")
    assert prorated_volume(half, SEAT_TIERS).amount == D("5.00")


def test_no_units_no_charge_unless_the_first_flat_fee_is_due_at_zero():
    none = ProratedUsage((LevelSpan(APRIL, D(0)),), APRIL)
    tiers = (T(10, D("10.00"), D("20.00")), T(None, D("8.00")))
    assert prorated_graduated(none, tiers).amount == D(0)
    assert prorated_volume(none, tiers).amount == D(0)
    assert prorated_graduated(none, tiers, flat_fee_at_zero=True).amount == D("20.00")
    assert prorated_volume(none, tiers, flat_fee_at_zero=True).amount == D("20.00")


def test_prorated_tiers_refuse_block_sizes():
    with pytest.raises(ValueError, match="block"):
        prorated_graduated(SEATS, (T(None, D(1), block_size=10),))


def _seat(event_id: str, at: datetime, seats: str) -> Event:
    return Event(event_id, "sub_1", "seats", at, {"count": seats})


def test_level_usage_reads_the_level_each_event_sets():
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    events = [
        _seat("e0", datetime(2026, 3, 20, tzinfo=UTC), "8"),  # carried in from March
        _seat("e1", datetime(2026, 4, 16, tzinfo=UTC), "12"),
        _seat("e2", datetime(2026, 4, 26, tzinfo=UTC), "10"),
        _seat("e3", datetime(2026, 5, 3, tzinfo=UTC), "50"),  # after the period
    ]
    usage = level_usage(MetricSpec("seats", "time_weighted_sum", "count"), events, start, end)
    assert usage == SEATS


def test_level_usage_counts_whole_seconds_that_add_up_to_the_period():
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC)
    at = datetime(2026, 4, 16, 0, 0, 0, 500_000, tzinfo=UTC)  # half a second in
    usage = level_usage(
        MetricSpec("seats", "time_weighted_sum", "count"), [_seat("e1", at, "1")], start, end
    )
    assert usage.spans == (LevelSpan(15 * DAY_S, D(0)), LevelSpan(15 * DAY_S, D(1)))
    assert sum(s.seconds for s in usage.spans) == APRIL
