"""Prorated usage: units that persist (seats), each weighed by the share of the period it
existed, the way Lago prorates charges on recurring metrics.

A metric's events set a level (how many seats there are now) from their timestamp on; the
level at the period start is carried in from the latest earlier event. Unit k (the k-th
seat) exists while the level is at least k, so the units that existed longest fill the
lowest tiers. The period's *full units* are the peak level: every unit that existed in the
period counts in full when a tier is chosen. Its *prorated units* are the level averaged
over the period (8 seats for 15 of 30 days, 12 for 10 and 10 for 5: 290/30 = 9.67).

Prorated prices: per_unit (prorated units x unit amount); volume (the tier the full units
reach, its unit amount on the prorated units, its flat amount in full); graduated (each
tier's unit amount on the prorated units within its bounds, the flat amount of each tier
the full units reach). Time is counted in whole seconds, as `time_weighted_sum` counts it.
Pure functions over Decimal in MONEY_CONTEXT; the caller rounds the line once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from billing.domain.metering import Event, MetricSpec, effective, matches, number
from billing.domain.money import MONEY_CONTEXT
from billing.domain.pricing import (
    Priced,
    PricingStep,
    TierLike,
    describe_units,
    tier_bounds,
    total,
)

ZERO = Decimal(0)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class LevelSpan:
    """`level` units for `seconds` seconds."""

    seconds: int
    level: Decimal


@dataclass(frozen=True)
class ProratedUsage:
    """How many units existed, and how long, over a period of `period_seconds`: `spans` in
    time order (their seconds add up to the period)."""

    spans: tuple[LevelSpan, ...]
    period_seconds: int

    @property
    def full_units(self) -> Decimal:
        """The peak level: what chooses the tier."""
        return max((span.level for span in self.spans), default=ZERO)

    @property
    def prorated_units(self) -> Decimal:
        return self.per_period(self.unit_seconds(ZERO, None))

    def unit_seconds(self, lower: Decimal, upper: Decimal | None) -> Decimal:
        """Unit-seconds of the units numbered above `lower` up to `upper` (a tier)."""
        area = ZERO
        for span in self.spans:
            above = MONEY_CONTEXT.subtract(span.level, lower)
            if upper is not None:
                above = min(above, MONEY_CONTEXT.subtract(upper, lower))
            if above > 0:
                area = MONEY_CONTEXT.add(area, MONEY_CONTEXT.multiply(above, Decimal(span.seconds)))
        return area

    def per_period(self, amount: Decimal) -> Decimal:
        if self.period_seconds < 1:
            raise ValueError("a period lasts at least one second")
        return MONEY_CONTEXT.divide(amount, Decimal(self.period_seconds))

    def priced(self, unit_seconds: Decimal, unit_amount: Decimal) -> Decimal:
        """`unit_seconds` at `unit_amount` per unit for the whole period, divided once."""
        return self.per_period(MONEY_CONTEXT.multiply(unit_seconds, unit_amount))


def level_usage(
    spec: MetricSpec, events: Sequence[Event], period_start: datetime, period_end: datetime
) -> ProratedUsage:
    """The level of `spec` (its `field`) over [period_start, period_end), corrections
    applied. Events before the period set the level it starts at (the latest wins; 0 when
    none is given); events from the period end on are ignored. Span boundaries are whole
    seconds from the period start, so the spans add up to the period exactly."""
    field = spec.field or ""
    chosen = [
        e
        for e in effective(events)
        if e.metric == spec.code and e.timestamp < period_end and matches(e, spec.filters)
    ]
    level, since = ZERO, 0
    spans: list[LevelSpan] = []
    for event in chosen:  # in time order
        at = max(0, (event.timestamp - period_start) // _SECOND)
        if at > since:
            spans.append(LevelSpan(at - since, level))
            since = at
        level = number(event, field)
    end = (period_end - period_start) // _SECOND
    if end > since:
        spans.append(LevelSpan(end - since, level))
    return ProratedUsage(tuple(spans), end)


def prorated_per_unit(usage: ProratedUsage, unit_amount: Decimal) -> Priced:
    units = usage.prorated_units
    amount = usage.priced(usage.unit_seconds(ZERO, None), unit_amount)
    return Priced(amount, (PricingStep("per unit, prorated", units, unit_amount, ZERO, amount),))


def _no_blocks(tiers: Sequence[TierLike]) -> None:
    if any(tier.block_size is not None for tier in tiers):
        raise ValueError("a prorated price cannot price blocks")  # refused at load


def prorated_graduated(
    usage: ProratedUsage, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """Each tier's unit amount on the prorated units within its bounds; the flat amount of
    every tier the full units reach (and the first tier's at zero, if `flat_fee_at_zero`)."""
    _no_blocks(tiers)
    peak = usage.full_units
    steps: list[PricingStep] = []
    for index, (tier, (lower, upper)) in enumerate(zip(tiers, tier_bounds(tiers), strict=True)):
        if peak <= lower and not (index == 0 and flat_fee_at_zero):
            break
        seconds = usage.unit_seconds(lower, upper)
        flat = tier.flat_amount or ZERO
        amount = MONEY_CONTEXT.add(usage.priced(seconds, tier.unit_amount), flat)
        units = usage.per_period(seconds)
        where = f"{describe_units(lower, upper)}, prorated"
        steps.append(PricingStep(where, units, tier.unit_amount, flat, amount))
    return Priced(total(steps), tuple(steps))


def prorated_volume(
    usage: ProratedUsage, tiers: Sequence[TierLike], *, flat_fee_at_zero: bool = False
) -> Priced:
    """The tier the full units reach prices every prorated unit, plus its flat amount."""
    _no_blocks(tiers)
    peak = usage.full_units
    for tier, (lower, upper) in zip(tiers, tier_bounds(tiers), strict=True):
        if upper is None or peak <= upper:
            if peak == 0 and not flat_fee_at_zero:
                return Priced(ZERO, ())
            flat = tier.flat_amount or ZERO
            seconds = usage.unit_seconds(ZERO, None)
            amount = MONEY_CONTEXT.add(usage.priced(seconds, tier.unit_amount), flat)
            where = f"{peak} units at most, in tier {describe_units(lower, upper)}, prorated"
            step = PricingStep(where, usage.prorated_units, tier.unit_amount, flat, amount)
            return Priced(amount, (step,))
    raise ValueError("the last tier must be unbounded")  # the rule validator guarantees it
