"""Monthly recurring revenue (issue 17, ADR 0055) as plain decisions: a subscription's
contribution, and the movement a change makes in its customer's MRR.

A subscription contributes its items' unit amounts times quantities (negotiated prices
included) normalized to a month: a yearly price / 12, a weekly one * 52 / 12, a daily one
* 365 / 12, each over its interval count; rounded half-even to the currency's minor unit.
Only subscriptions that bill contribute: active and past due (still a customer, still owing);
trialing, paused, unpaid, incomplete and canceled contribute nothing. Usage-based prices
contribute their committed unit amount only (metered usage is not recurring). Coupons are not
taken off (MRR is list-based here; ChartMogul and Baremetrics let it be either).

Movements are classified per customer and currency, as ChartMogul and Baremetrics do:
new (0 to more, never before), reactivation (0 to more, after having had MRR), expansion
(up), contraction (down, not to 0), churn (to 0).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from billing.domain.money import minor_unit_exponent
from billing.domain.subscriptions import Status, Subscription

BILLING = frozenset({Status.ACTIVE, Status.PAST_DUE})
_PER_MONTH = {
    "month": Decimal(1),
    "year": Decimal(1) / Decimal(12),
    "week": Decimal(52) / Decimal(12),
    "day": Decimal(365) / Decimal(12),
}


class Movement(StrEnum):
    NEW = "new"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"
    REACTIVATION = "reactivation"


def contribution_minor(sub: Subscription) -> int:
    """The subscription's MRR in minor units of its currency."""
    if sub.status not in BILLING:
        return 0
    per_period = sum((item.unit_amount * item.quantity for item in sub.items), Decimal(0))
    monthly = per_period * _PER_MONTH[sub.interval] / Decimal(max(sub.interval_count, 1))
    exponent = minor_unit_exponent(sub.currency)
    minor = (monthly * Decimal(10) ** exponent).quantize(Decimal(1), ROUND_HALF_EVEN)
    return int(minor)


def movement(before_minor: int, after_minor: int, ever_had_mrr: bool) -> Movement | None:
    """What a change of a customer's MRR from `before` to `after` is; None when equal."""
    if after_minor == before_minor:
        return None
    if before_minor == 0:
        return Movement.REACTIVATION if ever_had_mrr else Movement.NEW
    if after_minor == 0:
        return Movement.CHURN
    return Movement.EXPANSION if after_minor > before_minor else Movement.CONTRACTION


def churn_rate(lost: int, base: int) -> Decimal:
    """`lost` over `base` as a fraction, exact to 6 places (0 when the base is 0)."""
    if base <= 0:
        return Decimal(0)
    return (Decimal(lost) / Decimal(base)).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
