"""Whether a plan change is an upgrade, a downgrade or neither, by price per unit of time.

A plan's recurring price is what its items bill in advance each period (quantity x unit
amount; usage in arrears is unknown in advance and left out). Two prices over periods of
different lengths are compared per unit of time, exactly: a yearly 300.00 is 25.00 a month,
so going from 30.00 monthly to 300.00 yearly is a downgrade.

Lengths are counted in twelfths of a day, so every cadence is a whole number of them: a
month is a twelfth of a 365-day year (365/12 days), so a year is exactly 12 months and a
week exactly 7 days; only a comparison between days or weeks and months or years depends on
that convention. Comparing a/len_a with b/len_b as a x len_b against b x len_a needs no
division, so nothing is rounded.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from billing.domain.money import MONEY_CONTEXT
from billing.domain.periods import Cadence
from billing.domain.subscriptions import Item

Direction = Literal["upgrade", "downgrade", "same"]
DIRECTIONS: tuple[Direction, ...] = ("upgrade", "downgrade", "same")

# One interval in twelfths of a day (see the module docstring).
_TWELFTHS_OF_A_DAY = {"day": 12, "week": 7 * 12, "month": 365, "year": 12 * 365}


def recurring_amount(items: Iterable[Item]) -> Decimal:
    """What the items bill in advance for one full period, unrounded."""
    total = Decimal(0)
    for item in items:
        total = MONEY_CONTEXT.add(total, item.full_amount())
    return total


def period_length(cadence: Cadence) -> int:
    """The cadence's period in twelfths of a day."""
    return _TWELFTHS_OF_A_DAY[cadence.interval] * cadence.count


def change_direction(
    old_items: Iterable[Item], old_cadence: Cadence, new_items: Iterable[Item], new_cadence: Cadence
) -> Direction:
    """`upgrade` when the new items cost more per unit of time than the old ones, `downgrade`
    when less, `same` when exactly as much."""
    old = MONEY_CONTEXT.multiply(recurring_amount(old_items), Decimal(period_length(new_cadence)))
    new = MONEY_CONTEXT.multiply(recurring_amount(new_items), Decimal(period_length(old_cadence)))
    if new > old:
        return "upgrade"
    if new < old:
        return "downgrade"
    return "same"
