"""The `ledger` rule kind as plain data (ADR 0051): the reporting currency and its FX rates,
and the chart of accounts that names ledger accounts for finance.

Defaults keep a rule set without a `ledger` file working: no reporting currency (entries carry
transaction-currency amounts only), ledger accounts shown by their own names. (Performance
obligations, SSP, modifications and collectibility are the `recognition` kind's.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal


@dataclass(frozen=True)
class FxRate:
    """1 `currency` = `rate` reporting currency, from `effective_from` (the seller's day)."""

    currency: str
    rate: Decimal
    effective_from: date


@dataclass(frozen=True)
class ChartAccount:
    """How finance names a ledger account (`revenue:pro`) or every account of a base
    (`revenue`): its code in the general ledger and its display name."""

    ledger_account: str
    code: str
    name: str


@dataclass(frozen=True)
class LedgerRules:
    reporting_currency: str = ""
    fx_rates: tuple[FxRate, ...] = ()
    chart: tuple[ChartAccount, ...] = ()


NO_LEDGER_RULES = LedgerRules()


def rate_on(rules: LedgerRules, currency: str, day: date) -> Decimal | None:
    """The rate of `currency` in force on `day` (the latest effective_from on or before it);
    None when the rules give none (the entry then carries no reporting amounts)."""
    best: FxRate | None = None
    for fx in rules.fx_rates:
        eligible = fx.currency == currency and fx.effective_from <= day
        if eligible and (best is None or fx.effective_from > best.effective_from):
            best = fx
    return best.rate if best is not None else None


def to_reporting(signed_minor: Sequence[int], rate: Decimal, exponent_shift: int) -> list[int]:
    """Signed transaction amounts (debits positive) at `rate`, in reporting minor units, still
    summing to zero: each debit rounded half-even, the credits given the debits' total by
    largest remainder (ADR 0051), so a converted entry balances exactly.
    `exponent_shift` is the reporting currency's minor exponent less the transaction's."""
    scale = Decimal(10) ** exponent_shift
    exact = [Decimal(a) * rate * scale for a in signed_minor]
    out = [int(x.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)) if x > 0 else 0 for x in exact]
    credits = [i for i, x in enumerate(exact) if x < 0]
    target = sum(out)  # the credits' total, as a positive number
    floors = {i: int((-exact[i]).to_integral_value(rounding=ROUND_FLOOR)) for i in credits}
    left = target - sum(floors.values())
    by_remainder = sorted(credits, key=lambda i: (-((-exact[i]) - floors[i]), i))
    for n, i in enumerate(by_remainder):
        out[i] = -(floors[i] + (1 if n < left else 0))
    if left < 0 or left > len(credits):  # rounding drift beyond one unit per line: put it
        # on the largest credit line (only for degenerate rates; still exact in total)
        drift = target + sum(out[i] for i in credits)
        if credits:
            biggest = max(credits, key=lambda i: -exact[i])
            out[biggest] -= drift
    return out
