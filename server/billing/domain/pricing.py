"""How usage becomes an amount: the math of the built-in pricing models.

Pure functions over Decimal. Parts stay unrounded; the caller rounds the line once, with the
rounding the money rules name. Tiers are given by `up_to`, the inclusive upper bound of the
tier (None for the last, unbounded one); a tier's lower bound is the previous `up_to`.

Quantity models (per_unit, graduated, volume, package) price a count of units. Percentage
models (percentage, graduated_percentage) price a list of transaction amounts, in major units
of the price's currency; a rate is a percent (1.2 means 1.2%).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from billing.domain.money import MONEY_CONTEXT

ZERO = Decimal(0)


class TierLike(Protocol):
    """A tier of units (graduated, volume)."""

    @property
    def up_to(self) -> int | None: ...

    @property
    def unit_amount(self) -> Decimal: ...

    @property
    def flat_amount(self) -> Decimal | None: ...


class PercentageTierLike(Protocol):
    """A tier of transaction volume (graduated_percentage): `up_to` in major units."""

    @property
    def up_to(self) -> Decimal | None: ...

    @property
    def rate(self) -> Decimal: ...

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


def _bounds(
    tiers: Sequence[TierLike] | Sequence[PercentageTierLike],
) -> list[tuple[Decimal, Decimal | None]]:
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


def package(
    quantity: Decimal, package_size: int, package_amount: Decimal, *, free_units: int = 0
) -> Priced:
    """Units beyond the first `free_units` are sold in packages of `package_size`; a started
    package counts in full (350 units, 100 free, packages of 100: 3 packages)."""
    if package_size < 1:
        raise ValueError("package_size must be at least 1")  # the rule schema guarantees it
    steps: list[PricingStep] = []
    free = min(quantity, Decimal(free_units))
    if free > 0:
        steps.append(PricingStep(f"units 1 to {free} free", free, ZERO, ZERO, ZERO))
    billable = quantity - free
    if billable > 0:
        whole, rest = divmod(billable, Decimal(package_size))
        packages = whole + (1 if rest else 0)
        amount = MONEY_CONTEXT.multiply(packages, package_amount)
        noun = "package" if packages == 1 else "packages"
        steps.append(
            PricingStep(
                f"{packages} {noun} of {package_size} units for units {free + 1} to {quantity}",
                packages,
                package_amount,
                ZERO,
                amount,
            )
        )
    total = sum((step.amount for step in steps), ZERO)
    return Priced(total, tuple(steps))


def _fraction(rate: Decimal) -> Decimal:
    """A percent as a fraction, exactly: 1.2 -> 0.012."""
    return rate.scaleb(-2, context=MONEY_CONTEXT)


def _check_amounts(amounts: Sequence[Decimal]) -> None:
    for amount in amounts:
        if amount < 0:
            raise ValueError(f"transaction amounts must not be negative, got {amount}")


def percentage(
    amounts: Sequence[Decimal],
    rate: Decimal,
    *,
    fixed_fee: Decimal | None = None,
    min_per_transaction: Decimal | None = None,
    max_per_transaction: Decimal | None = None,
) -> Priced:
    """Per transaction: `rate`% of its amount plus `fixed_fee`, that whole fee then raised to
    `min_per_transaction` and capped at `max_per_transaction`. Fees stay unrounded and are
    summed; the caller rounds the line once (two fees of 0.9048 make 1.8096, i.e. 1.81).

    Steps group the transactions: those charged rate and fixed fee (quantity: their volume;
    flat_amount: their fixed fees), those raised to the minimum and those capped at the
    maximum (quantity: how many)."""
    _check_amounts(amounts)
    fraction, fixed = _fraction(rate), fixed_fee or ZERO
    count, volume, charged = 0, ZERO, ZERO
    at_min, at_max = 0, 0
    for amount in amounts:
        fee = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(amount, fraction), fixed)
        if min_per_transaction is not None and fee < min_per_transaction:
            at_min += 1
        elif max_per_transaction is not None and fee > max_per_transaction:
            at_max += 1
        else:
            count += 1
            volume = MONEY_CONTEXT.add(volume, amount)
            charged = MONEY_CONTEXT.add(charged, fee)
    steps: list[PricingStep] = []
    if count:
        fixed_text = f" + {fixed} each" if fixed else ""
        steps.append(
            PricingStep(
                f"{_transactions(count)}: {rate}% of {volume}{fixed_text}",
                volume,
                fraction,
                MONEY_CONTEXT.multiply(Decimal(count), fixed),
                charged,
            )
        )
    for how_many, bound, what in (
        (at_min, min_per_transaction, "raised to the minimum"),
        (at_max, max_per_transaction, "capped at the maximum"),
    ):
        if how_many and bound is not None:
            amount = MONEY_CONTEXT.multiply(Decimal(how_many), bound)
            steps.append(
                PricingStep(
                    f"{_transactions(how_many)} {what} of {bound} each",
                    Decimal(how_many),
                    bound,
                    ZERO,
                    amount,
                )
            )
    total = sum((step.amount for step in steps), ZERO)
    return Priced(total, tuple(steps))


def _transactions(count: int) -> str:
    return f"{count} transaction" if count == 1 else f"{count} transactions"


def _describe_volume(lower: Decimal, upper: Decimal | None) -> str:
    if upper is None:
        return f"volume above {lower}"
    return f"volume up to {upper}" if lower == 0 else f"volume above {lower} up to {upper}"


def graduated_percentage(amounts: Sequence[Decimal], tiers: Sequence[PercentageTierLike]) -> Priced:
    """Graduated tiers on the total transaction volume (the sum of `amounts`): each tier's
    `rate`% applies to the part of the volume in it, and its flat amount is charged when any
    volume falls in it. No volume, no charge."""
    _check_amounts(amounts)
    total_volume = ZERO
    for amount in amounts:
        total_volume = MONEY_CONTEXT.add(total_volume, amount)
    steps: list[PricingStep] = []
    for tier, (lower, upper) in zip(tiers, _bounds(tiers), strict=True):
        top = total_volume if upper is None else min(total_volume, upper)
        part = max(top - lower, ZERO)
        if part == 0:
            break
        fraction, flat = _fraction(tier.rate), tier.flat_amount or ZERO
        amount = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(part, fraction), flat)
        description = f"{_describe_volume(lower, upper)} at {tier.rate}%"
        steps.append(PricingStep(description, part, fraction, flat, amount))
    total = sum((step.amount for step in steps), ZERO)
    return Priced(total, tuple(steps))
