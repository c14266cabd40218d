"""Cash rounding: where a country pays cash amounts in steps coarser than the minor unit
(Switzerland: 0.05 CHF), the invoice total is rounded to that step, the way Swiss invoices
do it: one rounding line for the difference, so the lines still sum to the total. Lines
themselves keep their one rounding to the minor unit; only what is paid is rounded again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from billing.domain.money import Money, round_to_increment
from billing.domain.subscriptions import Line, LineKind, exact_line


def cash_rounding_line(
    lines: Sequence[Line],
    currency: str,
    increment: Decimal,
    rounding: str,
    period: tuple[datetime, datetime],
) -> Line | None:
    """The line bringing a positive total to a multiple of `increment` (major units, e.g.
    Decimal('0.05')), or None when it already is one or there is nothing to pay. 12.33 CHF
    to 0.05 half up is +0.02 (12.35); 12.32 is -0.02 (12.30)."""
    total = sum(line.amount_minor for line in lines)
    if total <= 0:
        return None  # nothing is paid in cash; credit is kept to the minor unit
    step = Money.from_decimal(increment, currency).amount_minor
    difference = round_to_increment(total, step, rounding) - total
    if difference == 0:
        return None
    return exact_line(
        f"Rounding to {increment} {currency}",
        difference,
        currency,
        period,
        LineKind.ROUNDING,
        {
            "rule_entry": f"money.currencies.{currency}.cash_increment",
            "base": str(Money(currency, total).to_decimal()),
            "rounding": rounding,
        },
    )
