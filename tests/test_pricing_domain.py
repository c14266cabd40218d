"""Tier math and proration factors, exact to the digit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from billing.domain.pricing import graduated, per_unit, volume
from billing.domain.proration import remaining_days, remaining_seconds


@dataclass(frozen=True)
class T:
    up_to: int | None
    unit_amount: Decimal
    flat_amount: Decimal | None = None


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
