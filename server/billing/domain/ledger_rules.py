"""The `ledger` rule kind as plain data (ADR 0051): the reporting currency and its FX rates,
and the chart of accounts that names ledger accounts for finance.

Defaults keep a rule set without a `ledger` file working: no reporting currency (entries carry
transaction-currency amounts only), ledger accounts shown by their own names. (Performance
obligations, SSP, modifications and collectibility are the `recognition` kind's.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal


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
