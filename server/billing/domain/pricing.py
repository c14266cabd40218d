"""How usage becomes an amount: the math of the built-in pricing models.

Pure functions over Decimal. Parts stay unrounded; the caller rounds the line once, with the
rounding the money rules name. Tiers are given by `up_to`, the inclusive upper bound of the
tier (None for the last, unbounded one); a tier's lower bound is the previous `up_to`.

Quantity models (per_unit, graduated, volume, package) price a count of units; a tier with a
`block_size` prices started blocks of that many units instead of single units. Percentage
models (percentage, graduated_percentage) price a list of transaction amounts, in major units
of the price's currency; a rate is a percent (1.2 means 1.2%).

Every sum, product and difference runs in MONEY_CONTEXT (38 digits, traps on), never in the
caller's ambient context. Prorated usage (seats weighted by the time they existed) is priced
in `prorated_usage.py`.
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

    @property
    def block_size(self) -> int | None:
        """Units per block: `unit_amount` is then the price of each started block."""
        ...


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


def total(steps: Sequence[PricingStep]) -> Decimal:
    """The sum of the steps' amounts, in the money context."""
    result = ZERO
    for step in steps:
        result = MONEY_CONTEXT.add(result, step.amount)
    return result


def per_unit(quantity: Decimal, unit_amount: Decimal) -> Priced:
    amount = MONEY_CONTEXT.multiply(quantity, unit_amount)
    return Priced(amount, (PricingStep("per unit", quantity, unit_amount, ZERO, amount),))


def tier_bounds(
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


def describe_units(lower: Decimal, upper: Decimal | None) -> str:
    first = MONEY_CONTEXT.add(lower, Decimal(1))
    return f"units {first} and up" if upper is None else f"units {first} to {upper}"


def graduated(
    quantity: Decimal, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """Each tier prices the units that fall in it; a tier's flat fee is charged when any unit
    falls in it (and the first tier's at zero usage too, if `flat_fee_at_zero`)."""
    steps: list[PricingStep] = []
    for index, (tier, (lower, upper)) in enumerate(zip(tiers, tier_bounds(tiers), strict=True)):
        top = quantity if upper is None else min(quantity, upper)
        units = max(MONEY_CONTEXT.subtract(top, lower), ZERO)
        if units == 0 and not (index == 0 and flat_fee_at_zero):
            break
        steps.append(_tier_step(describe_units(lower, upper), units, tier))
    return Priced(total(steps), tuple(steps))


def _tier_step(where: str, units: Decimal, tier: TierLike) -> PricingStep:
    """`units` of one tier at its unit amount, or in started blocks, plus its flat amount."""
    flat, size = tier.flat_amount or ZERO, tier.block_size
    if size is None:
        count, description = units, where
    else:
        count = started_blocks(units, size)
        description = f"{where}: {units} units in {count} {_blocks(count)} of {size}"
    amount = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(count, tier.unit_amount), flat)
    return PricingStep(description, count, tier.unit_amount, flat, amount)


def started_blocks(units: Decimal, size: int) -> Decimal:
    """How many blocks of `size` units `units` start: a started block counts in full (250
    units in blocks of 100: 3)."""
    if size < 1:
        raise ValueError(f"block_size must be at least 1, got {size}")  # the schema checks it
    whole, rest = MONEY_CONTEXT.divmod(units, Decimal(size))
    return MONEY_CONTEXT.add(whole, Decimal(1)) if rest else whole


def _blocks(count: Decimal) -> str:
    return "block" if count == 1 else "blocks"


def volume(
    quantity: Decimal, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """All units at the unit amount of the tier the total quantity falls in."""
    for tier, (lower, upper) in zip(tiers, tier_bounds(tiers), strict=True):
        if upper is None or quantity <= upper:
            if quantity == 0 and not flat_fee_at_zero:
                return Priced(ZERO, ())
            where = f"all {quantity} units in tier {describe_units(lower, upper)}"
            step = _tier_step(where, quantity, tier)
            return Priced(step.amount, (step,))
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
    billable = MONEY_CONTEXT.subtract(quantity, free)
    if billable > 0:
        packages = started_blocks(billable, package_size)
        amount = MONEY_CONTEXT.multiply(packages, package_amount)
        noun = "package" if packages == 1 else "packages"
        steps.append(
            PricingStep(
                f"{packages} {noun} of {package_size} units"
                f" for units {MONEY_CONTEXT.add(free, Decimal(1))} to {quantity}",
                packages,
                package_amount,
                ZERO,
                amount,
            )
        )
    return Priced(total(steps), tuple(steps))


def _fraction(rate: Decimal) -> Decimal:
    """A percent as a fraction, exactly: 1.2 -> 0.012."""
    return rate.scaleb(-2, context=MONEY_CONTEXT)


def _check_amounts(amounts: Sequence[Decimal]) -> None:
    for amount in amounts:
        if amount < 0:
            raise ValueError(f"transaction amounts must not be negative, got {amount}")


@dataclass
class _FreeUnits:
    """What is left of a percentage price's free units while its transactions are walked in
    time order (None: no such limit). They end with whichever limit runs out first."""

    events: int | None
    volume: Decimal | None
    whole: int = 0  # transactions free in full
    part: Decimal = ZERO  # the free part of the transaction that used the last free volume
    given: Decimal = ZERO  # free volume given so far

    @property
    def active(self) -> bool:
        if self.events is None and self.volume is None:
            return False
        return self.events is None or self.whole < self.events

    def take(self, amount: Decimal) -> Decimal | None:
        """The part of `amount` left to charge; None when the transaction is free in full."""
        if not self.active:
            return amount
        if self.volume is None or amount <= self.volume:
            self.whole += 1
            self.given = MONEY_CONTEXT.add(self.given, amount)
            if self.volume is not None:
                self.volume = MONEY_CONTEXT.subtract(self.volume, amount)
                if self.volume == 0:
                    self.events = 0  # the free volume is used up: free units end
            return None
        # This transaction crosses the free volume: its part within it is free, the rest
        # pays the rate, and it pays the fixed fee; free units end with it.
        self.part, self.given = self.volume, MONEY_CONTEXT.add(self.given, self.volume)
        rest = MONEY_CONTEXT.subtract(amount, self.volume)
        self.volume, self.events = ZERO, 0
        return rest

    def step(self) -> PricingStep | None:
        if not self.whole and not self.part:
            return None
        text = f"{_transactions(self.whole)} free"
        if self.part:
            text += f" and {self.part} of the next"
        return PricingStep(f"{text}: {self.given}", self.given, ZERO, ZERO, ZERO)


def percentage(
    amounts: Sequence[Decimal],
    rate: Decimal,
    *,
    fixed_fee: Decimal | None = None,
    min_per_transaction: Decimal | None = None,
    max_per_transaction: Decimal | None = None,
    free_units_per_events: int | None = None,
    free_units_per_total_aggregation: Decimal | None = None,
) -> Priced:
    """Per transaction: `rate`% of its amount plus `fixed_fee`, that whole fee then raised to
    `min_per_transaction` and capped at `max_per_transaction`. Fees stay unrounded and are
    summed; the caller rounds the line once (two fees of 0.9048 make 1.8096, i.e. 1.81).

    Free units (Lago's), in time order: the first `free_units_per_events` transactions and
    the first `free_units_per_total_aggregation` of volume are free, and free units end with
    whichever limit runs out first. A free transaction pays nothing (no fixed fee, no
    minimum); the one that crosses the free volume pays the rate on its part beyond it, and
    the fixed fee (Lago's example: 3 events or 500.00 free, then 200, 100, 100 are free and
    a 4th of 50.00 pays 1.2% + 0.10 = 0.70).

    Steps group the transactions: those free, those charged rate and fixed fee (quantity:
    their charged volume; flat_amount: their fixed fees), those raised to the minimum and
    those capped at the maximum (quantity: how many)."""
    _check_amounts(amounts)
    if (free_units_per_events or 0) < 0 or (free_units_per_total_aggregation or ZERO) < 0:
        raise ValueError("free units must not be negative")  # the rule schema guarantees it
    fraction, fixed = _fraction(rate), fixed_fee or ZERO
    # 0 means no such limit, as in Lago
    free = _FreeUnits(free_units_per_events or None, free_units_per_total_aggregation or None)
    count, volume, charged = 0, ZERO, ZERO
    at_min, at_max = 0, 0
    for amount in amounts:
        chargeable = free.take(amount)
        if chargeable is None:
            continue
        fee = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(chargeable, fraction), fixed)
        if min_per_transaction is not None and fee < min_per_transaction:
            at_min += 1
        elif max_per_transaction is not None and fee > max_per_transaction:
            at_max += 1
        else:
            count += 1
            volume = MONEY_CONTEXT.add(volume, chargeable)
            charged = MONEY_CONTEXT.add(charged, fee)
    free_step = free.step()
    steps: list[PricingStep] = [free_step] if free_step else []
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
    return Priced(total(steps), tuple(steps))


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
    for tier, (lower, upper) in zip(tiers, tier_bounds(tiers), strict=True):
        top = total_volume if upper is None else min(total_volume, upper)
        part = max(MONEY_CONTEXT.subtract(top, lower), ZERO)
        if part == 0:
            break
        fraction, flat = _fraction(tier.rate), tier.flat_amount or ZERO
        amount = MONEY_CONTEXT.add(MONEY_CONTEXT.multiply(part, fraction), flat)
        description = f"{_describe_volume(lower, upper)} at {tier.rate}%"
        steps.append(PricingStep(description, part, fraction, flat, amount))
    return Priced(total(steps), tuple(steps))
