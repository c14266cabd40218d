"""How a quantity becomes an amount: the tier math of the built-in pricing models.

Pure functions over Decimal. Parts stay unrounded; the caller rounds the line once, with the
rounding the money rules name. Tiers are given by `up_to`, the inclusive upper bound of the
tier (None for the last, unbounded one); a tier's lower bound is the previous `up_to`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from billing.domain.money import MONEY_CONTEXT

ZERO = Decimal(0)


class TierLike(Protocol):
    @property
    def up_to(self) -> int | None: ...

    @property
    def unit_amount(self) -> Decimal: ...

    @property
    def flat_amount(self) -> Decimal | None: ...


@dataclass(frozen=True)
class PricingStep:
    """One part of a price: `quantity` units at `unit_amount`, plus `flat_amount`."""

    description: str
    quantity: Decimal
    unit_amount: Decimal
    flat_amount: Decimal
    amount: Decimal  # unrounded


@dataclass(frozen=True)
class Priced:
    amount: Decimal  # unrounded, major units
    steps: tuple[PricingStep, ...]


def per_unit(quantity: Decimal, unit_amount: Decimal) -> Priced:
    amount = MONEY_CONTEXT.multiply(quantity, unit_amount)
    return Priced(amount, (PricingStep("per unit", quantity, unit_amount, ZERO, amount),))


def _bounds(tiers: Sequence[TierLike]) -> list[tuple[Decimal, Decimal | None]]:
    """(lower, upper) per tier: lower exclusive, upper inclusive (None: unbounded)."""
    bounds: list[tuple[Decimal, Decimal | None]] = []
    lower = ZERO
    for tier in tiers:
        upper = None if tier.up_to is None else Decimal(tier.up_to)
        bounds.append((lower, upper))
        if upper is not None:
            lower = upper
    return bounds


def _describe(lower: Decimal, upper: Decimal | None) -> str:
    return f"units {lower + 1} and up" if upper is None else f"units {lower + 1} to {upper}"


def graduated(
    quantity: Decimal, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """Each tier prices the units that fall in it; a tier's flat fee is charged when any unit
    falls in it (and the first tier's at zero usage too, if `flat_fee_at_zero`)."""
    steps: list[PricingStep] = []
    for index, (tier, (lower, upper)) in enumerate(zip(tiers, _bounds(tiers), strict=True)):
        top = quantity if upper is None else min(quantity, upper)
        units = max(top - lower, ZERO)
        if units == 0 and not (index == 0 and flat_fee_at_zero):
            break
        flat = tier.flat_amount or ZERO
        amount = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(units, tier.unit_amount), flat)
        steps.append(PricingStep(_describe(lower, upper), units, tier.unit_amount, flat, amount))
    total = sum((step.amount for step in steps), ZERO)
    return Priced(total, tuple(steps))


def volume(
    quantity: Decimal, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """All units at the unit amount of the tier the total quantity falls in."""
    for tier, (lower, upper) in zip(tiers, _bounds(tiers), strict=True):
        if upper is None or quantity <= upper:
            if quantity == 0 and not flat_fee_at_zero:
                return Priced(ZERO, ())
            flat = tier.flat_amount or ZERO
            amount = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(quantity, tier.unit_amount), flat)
            step = PricingStep(
                f"all {quantity} units in tier {_describe(lower, upper)}",
                quantity,
                tier.unit_amount,
                flat,
                amount,
            )
            return Priced(amount, (step,))
    raise ValueError("the last tier must be unbounded")  # the rule validator guarantees it
