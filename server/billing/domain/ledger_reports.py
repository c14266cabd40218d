"""Financial reports over the journal and the schedules (issue 17), as pure functions over the
sums the store returns: trial balance, revenue by product, the deferred revenue roll-forward
and waterfall, and the closed-period rule for late postings."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from billing.domain.ledger import REVENUE, EntryKind, base_of
from billing.domain.ledger_rules import LedgerRules
from billing.domain.recognition import RevenueSchedule, earned


@dataclass(frozen=True)
class BalanceRow:
    account: str
    currency: str
    debit_minor: int
    credit_minor: int
    gl_code: str = ""
    gl_name: str = ""

    @property
    def balance_minor(self) -> int:
        """Debit positive."""
        return self.debit_minor - self.credit_minor


def trial_balance(
    sums: Iterable[tuple[str, str, int, int]], rules: LedgerRules
) -> list[BalanceRow]:
    """(account, currency, debits, credits) rows named by the chart (the account's own entry,
    else its base's)."""
    chart = {entry.ledger_account: entry for entry in rules.chart}
    out = []
    for account, currency, debits, credits in sums:
        mapped = chart.get(account) or chart.get(base_of(account))
        out.append(
            BalanceRow(
                account,
                currency,
                debits,
                credits,
                mapped.code if mapped else "",
                mapped.name if mapped else "",
            )
        )
    return out


# --- periods -----------------------------------------------------------------------------------


def next_period(period: str) -> str:
    year, month = int(period[:4]), int(period[5:7])
    return f"{year + (month == 12):04d}-{month % 12 + 1:02d}"


def period_start(period: str, zone: ZoneInfo) -> datetime:
    """The period's first instant, in the seller's zone."""
    return datetime.combine(date(int(period[:4]), int(period[5:7]), 1), time(0), zone)


def period_end(period: str, zone: ZoneInfo) -> datetime:
    """The first instant after the period, in the seller's zone."""
    following = next_period(period)
    return datetime.combine(date(int(following[:4]), int(following[5:7]), 1), time(0), zone)


def landing_period(period: str, closed_through: str | None) -> tuple[str, str | None]:
    """Where an entry of `period` lands: its own period if open; else the first open one,
    as an adjustment of the closed period it belongs to (returned second)."""
    if closed_through is None or period > closed_through:
        return period, None
    return next_period(closed_through), period


# --- deferred revenue ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RollforwardRow:
    period: str
    currency: str
    opening_minor: int
    billed_minor: int  # invoices less voids (credit balance of deferred revenue moved)
    recognized_minor: int  # moved to revenue
    closing_minor: int


def rollforward(
    movements: Iterable[tuple[str, str, str, int]], start: str, end: str
) -> list[RollforwardRow]:
    """From (period, kind, currency, credit-positive movement of deferred revenue) sums, each
    period from `start` to `end` (inclusive): opening + billed - recognized = closing."""
    by_period: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    opening: dict[str, int] = defaultdict(int)
    currencies: set[str] = set()
    for period, kind, currency, credit in movements:
        currencies.add(currency)
        if period < start:
            opening[currency] += credit
        elif period <= end:
            slot = 1 if kind == EntryKind.RECOGNITION.value else 0
            by_period[(period, currency)][slot] += credit
    rows = []
    for currency in sorted(currencies):
        balance = opening[currency]
        period = start
        while period <= end:
            billed, recognized = by_period.get((period, currency), [0, 0])
            closing = balance + billed + recognized
            rows.append(RollforwardRow(period, currency, balance, billed, -recognized, closing))
            balance, period = closing, next_period(period)
    return rows


def revenue_by_product(
    sums: Iterable[tuple[str, str, str, int, int]],
) -> list[tuple[str, str, str, int]]:
    """(period, product line, currency, earned) from (period, account, currency, debits,
    credits) sums of revenue accounts."""
    out = []
    for period, account, currency, debits, credits in sums:
        if base_of(account) == REVENUE:
            line = account.split(":", 1)[1] if ":" in account else ""
            out.append((period, line, currency, credits - debits))
    return sorted(out)


def waterfall(
    schedules: Iterable[RevenueSchedule], after: datetime, months: int, zone: ZoneInfo
) -> dict[tuple[str, str], int]:
    """(period, currency) -> what the schedules will earn in each of the next `months`
    periods after `after` (what is earned but not yet posted falls in the first)."""
    out: dict[tuple[str, str], int] = defaultdict(int)
    local = after.astimezone(zone)
    first = f"{local.year:04d}-{local.month:02d}"
    bounds: list[tuple[str, datetime]] = []
    period = first
    for _ in range(months):
        bounds.append((period, period_end(period, zone)))
        period = next_period(period)
    for stored in schedules:
        s = stored.schedule
        done = stored.recognized_minor
        for period, end in bounds:
            through = earned(s, end, zone)
            if through != done:
                out[(period, stored.currency)] += through - done
                done = through
    return dict(out)
