"""Coupons and the discount line they produce: lines, then discounts, each rounded on its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.domain.credits import DISCOUNTABLE_KINDS
from billing.domain.errors import InvariantBroken
from billing.domain.money import MONEY_CONTEXT, Money, round_to_minor
from billing.domain.subscriptions import Line, LineKind

DURATIONS = ("once", "repeating", "forever")


@dataclass(frozen=True)
class Coupon:
    code: str
    percent_off: Decimal | None
    amount_off: Money | None
    duration: str  # once, repeating, forever
    duration_periods: int | None
    plans: tuple[str, ...]
    created_at: datetime

    @property
    def name(self) -> str:
        return f"coupons/{self.code}"

    def applies_to(self, plan_code: str) -> bool:
        return not self.plans or plan_code in self.plans

    def currency_mismatch(self, currency: str) -> str | None:
        """Why the coupon cannot discount an invoice in `currency` (a fixed amount in another
        currency would silently be worth nothing), or None if it can."""
        if self.amount_off is None or self.amount_off.currency_code == currency:
            return None
        return (
            f"{self.name} takes {self.amount_off} off; it cannot discount an amount in {currency}"
        )

    def first_periods_left(self) -> int | None:
        """Invoices it applies to, counting the first; None: forever."""
        if self.duration == "forever":
            return None
        return 1 if self.duration == "once" else self.duration_periods


@dataclass(frozen=True)
class Discount:
    """A coupon on a subscription, with the invoices it still applies to (None: forever)."""

    coupon_code: str
    periods_left: int | None

    def used_once(self) -> Discount | None:
        if self.periods_left is None:
            return self
        return Discount(self.coupon_code, self.periods_left - 1) if self.periods_left > 1 else None


def discount_line(
    coupon: Coupon,
    lines: Sequence[Line],
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
) -> Line | None:
    """One negative line for the coupon over the discountable lines; never more than them."""
    base_minor = sum(line.amount_minor for line in lines if line.kind in DISCOUNTABLE_KINDS)
    if base_minor <= 0:
        return None
    base = Money(currency, base_minor).to_decimal()
    if coupon.percent_off is not None:
        unrounded = MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(base, coupon.percent_off), 100)
        label = f"{coupon.percent_off}%"
    elif coupon.amount_off is None:
        raise InvariantBroken(f"{coupon.name} has neither percent_off nor amount_off")
    else:
        if (mismatch := coupon.currency_mismatch(currency)) is not None:
            # Refused where coupons are applied; one that got through is a bug, not a 0.
            raise InvariantBroken(mismatch)
        unrounded = min(coupon.amount_off.to_decimal(), base)
        label = str(coupon.amount_off)
    amount = round_to_minor(unrounded, currency, rounding).amount_minor
    return Line(
        description=f"Discount {coupon.code} ({label} off)",
        price_code=None,
        quantity=Decimal(1),
        unit_amount=-unrounded,
        unrounded=-unrounded,
        amount_minor=-amount,
        period_start=period[0],
        period_end=period[1],
        kind=LineKind.DISCOUNT,
        derivation={
            "rule_entry": coupon.name,
            "base": str(base),
            "unrounded": str(-unrounded),
            "rounding": rounding,
        },
    )
