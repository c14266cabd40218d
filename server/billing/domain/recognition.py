"""Revenue recognition (ASC 606 / IFRS 15, ADR 0054) as plain decisions: which performance
obligation an invoice line is, how an invoice's price (and its discounts) is allocated to its
obligations by relative standalone selling price, and how much of a schedule is earned by a
day. Pure: the app layer stores schedules and posts what they say.

A schedule is one obligation of one invoice: an amount (minor units, signed: a proration
credit is a negative schedule that takes back revenue) earned ratably over its service days,
or at once (point in time, usage in arrears). Ratable amounts are cumulative: what is earned
through day k of n is round_half_even(amount * k / n), so every day's part is exact and the
parts add up to the amount at the last day, whatever the rounding of the days between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

from billing.domain.subscriptions import LineKind


class Method(StrEnum):
    """The built-in methods. Any other name is a plugin's (`billing_register_recognition_
    methods`): its entries are asked once, when the schedule is written, and kept on it."""

    RATABLE = "ratable"  # daily over the line's service period
    POINT_IN_TIME = "point_in_time"  # at once, when the invoice is finalized
    USAGE = "usage"  # as usage occurs: billed in arrears, so earned when invoiced


BUILT_IN_METHODS = frozenset(m.value for m in Method)
METHOD_NAME_MAX = 16  # characters (the schedule row's column)


class Modifications(StrEnum):
    """A schedule whose service started before it was invoiced (a backdated change):
    `catch_up` earns the days already past at once; `prospective` spreads it over the days
    left from its invoicing."""

    PROSPECTIVE = "prospective"
    CATCH_UP = "catch_up"


class Collectibility(StrEnum):
    """`recognize`: earned as served, paid or not. `defer_until_paid`: collectibility is not
    probable, so nothing is earned until the invoice is paid (then it catches up)."""

    RECOGNIZE = "recognize"
    DEFER_UNTIL_PAID = "defer_until_paid"


@dataclass(frozen=True)
class Obligation:
    method: str  # a Method, or a plugin's method name
    ssp: Mapping[str, Decimal] = field(default_factory=dict)  # currency -> per unit


@dataclass(frozen=True)
class RecognitionRules:
    by_price: Mapping[str, Obligation] = field(default_factory=dict)
    by_plan: Mapping[str, Obligation] = field(default_factory=dict)
    by_product: Mapping[str, Obligation] = field(default_factory=dict)
    default_method: str = Method.RATABLE
    modifications: Modifications = Modifications.PROSPECTIVE
    collectibility: Collectibility = Collectibility.RECOGNIZE

    def obligation(
        self, price_code: str | None, plan: str | None, product: str | None
    ) -> Obligation:
        """The most specific match: the named price, then the plan, then the product."""
        for table, key in (
            (self.by_price, price_code),
            (self.by_plan, plan),
            (self.by_product, product),
        ):
            if key and key in table:
                return table[key]
        return Obligation(self.default_method)


NO_RECOGNITION_RULES = RecognitionRules(
    MappingProxyType({}), MappingProxyType({}), MappingProxyType({})
)


@dataclass(frozen=True)
class LineFacts:
    """What recognition needs of one revenue line of an invoice."""

    line_no: int
    kind: LineKind
    amount_minor: int
    price_code: str | None
    plan: str | None
    product: str | None  # the product line: revenue:<product>
    quantity: Decimal
    unit_amount: Decimal
    period_start: datetime
    period_end: datetime


@dataclass(frozen=True)
class Schedule:
    line_no: int
    product_line: str
    method: str  # a Method, or a plugin's: its entries are in `allocation["entries"]`
    amount_minor: int
    start: datetime
    end: datetime
    allocation: Mapping[str, Any]  # how the amount was reached (SSP, list amount, discount)


def allocate(target: int, weights: Sequence[Decimal]) -> list[int]:
    """`target` split in proportion to non-negative `weights`, by largest remainder (ties to
    the earlier part): the parts add up to `target` exactly."""
    total = sum(weights, Decimal(0))
    if total <= 0:
        raise ValueError("allocation needs a positive total weight")
    exact = [Decimal(target) * w / total for w in weights]
    floors = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    left = target - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def _weight(line: LineFacts, obligation: Obligation, currency: str) -> Decimal:
    """The line's standalone selling price: the rules' SSP per unit for the quantity, scaled
    by the share of a full period the line bills (a proration); else its own amount."""
    ssp = obligation.ssp.get(currency)
    if ssp is None or line.unit_amount == 0:
        return Decimal(line.amount_minor)
    billed_units = Decimal(line.amount_minor) / line.unit_amount  # quantity x period share
    return ssp * billed_units


def plan_schedules(
    lines: Sequence[LineFacts], currency: str, rules: RecognitionRules, invoiced_at: datetime
) -> list[Schedule]:
    """One schedule per revenue line. The discounts (coupon lines) are allocated, with the
    charges, to the charges by relative SSP: the charges' schedules hold the allocated price
    and the parts add up to the invoice's net revenue exactly. Credits (prorations, repairs)
    keep their own amounts: they take back revenue of what they credit."""
    charges = [ln for ln in lines if ln.kind != LineKind.DISCOUNT and ln.amount_minor > 0]
    discounts = [ln for ln in lines if ln.kind == LineKind.DISCOUNT]
    others = [ln for ln in lines if ln not in charges and ln not in discounts]
    obligations = {ln.line_no: rules.obligation(ln.price_code, ln.plan, ln.product) for ln in lines}
    target = sum(ln.amount_minor for ln in charges) + sum(ln.amount_minor for ln in discounts)
    weights = [_weight(ln, obligations[ln.line_no], currency) for ln in charges]
    allocated = (
        allocate(target, weights)
        if charges and target >= 0 and sum(weights, Decimal(0)) > 0
        else None
    )
    if allocated is None:  # a discount above the charges: each line keeps its amount
        others += discounts
        allocated = [ln.amount_minor for ln in charges]
    out = [
        _schedule(ln, obligations[ln.line_no], amount, invoiced_at, rules, {
            "list_minor": ln.amount_minor, "ssp_weight": str(weight), "allocated_minor": amount,
            "discount_minor": sum(d.amount_minor for d in discounts) if discounts else 0,
        })
        for ln, weight, amount in zip(charges, weights, allocated, strict=True)
    ]  # fmt: skip
    out += [
        _schedule(ln, obligations[ln.line_no], ln.amount_minor, invoiced_at, rules,
                  {"list_minor": ln.amount_minor, "allocated_minor": ln.amount_minor})
        for ln in others
    ]  # fmt: skip
    return sorted((s for s in out if s.amount_minor), key=lambda s: s.line_no)


def _schedule(
    line: LineFacts,
    obligation: Obligation,
    amount: int,
    invoiced_at: datetime,
    rules: RecognitionRules,
    allocation: dict[str, Any],
) -> Schedule:
    start, end = line.period_start, max(line.period_end, line.period_start)
    if rules.modifications == Modifications.PROSPECTIVE and start < invoiced_at < end:
        start = invoiced_at  # the days already past are not caught up: spread over the rest
    return Schedule(
        line.line_no,
        line.product or "other",
        obligation.method,
        amount,
        start,
        end,
        MappingProxyType(allocation),
    )


# --- earning by day -----------------------------------------------------------------------


def service_days(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[date, int]:
    """The first service day and the number of days (at least 1), in the seller's zone."""
    first = start.astimezone(zone).date()
    return first, max((end.astimezone(zone).date() - first).days, 1)


def earned_through(
    method: Method, amount_minor: int, start: datetime, end: datetime, at: datetime, zone: ZoneInfo
) -> int:
    """What is earned of the schedule by `at` (the days before `at`'s day in `zone`; all of
    it at once for point-in-time and usage). Cumulative, half-even, exact at the end."""
    if method != Method.RATABLE:
        return amount_minor
    first, days = service_days(start, end, zone)
    elapsed = min(max((at.astimezone(zone).date() - first).days, 0), days)
    earned = (Decimal(amount_minor) * elapsed / days).quantize(Decimal(1), ROUND_HALF_EVEN)
    return int(earned)


def earned(schedule: Schedule, at: datetime, zone: ZoneInfo) -> int:
    """What is earned of `schedule` by `at`: a built-in method's rule, or the sum of the
    plugin's entries whose day has passed by `at`'s day in `zone` (as ratable days are)."""
    if schedule.method in BUILT_IN_METHODS:
        return earned_through(
            Method(schedule.method), schedule.amount_minor, schedule.start, schedule.end, at, zone
        )
    today = at.astimezone(zone).date()
    return sum(
        amount for on, amount in schedule.allocation["entries"] if date.fromisoformat(on) < today
    )


def with_entries(
    schedule: Schedule, entries: Sequence[tuple[date, int]], zone: ZoneInfo
) -> Schedule:
    """The schedule with a plugin method's entries written down. ValueError unless they add
    up to the amount exactly and each falls on a service day."""
    first, days = service_days(schedule.start, schedule.end, zone)
    if sum(amount for _, amount in entries) != schedule.amount_minor:
        raise ValueError(
            f"recognition method {schedule.method!r}: entries add up to"
            f" {sum(a for _, a in entries)}, not the schedule's {schedule.amount_minor}"
        )
    outside = [on for on, _ in entries if not first <= on < first + timedelta(days=days)]
    if outside:
        raise ValueError(
            f"recognition method {schedule.method!r}: entry on {outside[0]} is outside the"
            f" service days {first} to {first + timedelta(days=days - 1)}"
        )
    written = [[on.isoformat(), amount] for on, amount in sorted(entries)]
    return replace(schedule, allocation=MappingProxyType({**schedule.allocation,
                                                          "entries": written}))  # fmt: skip


def next_boundary(
    start: datetime, end: datetime, after: datetime, zone: ZoneInfo
) -> datetime | None:
    """When the schedule next needs posting after `after`: the next month's first midnight
    in the seller's zone (a month's recognition is posted at its end), or the schedule's last
    day's end if sooner; None when `after` is past the end."""
    first, days = service_days(start, end, zone)
    last = first + timedelta(days=days)
    local = after.astimezone(zone).date()
    if local >= last:
        return None
    month = date(local.year + (local.month == 12), local.month % 12 + 1, 1)
    boundary = min(month, last)
    return datetime.combine(boundary, time(0), zone).astimezone(after.tzinfo)


class ScheduleStatus(StrEnum):
    ACTIVE = "active"  # something is left to recognize
    DONE = "done"  # all of it recognized
    VOID = "void"  # its invoice was voided: what was recognized was taken back


@dataclass(frozen=True)
class RevenueSchedule:
    """A schedule as stored: an invoice's obligation and how much of it is recognized."""

    id: str  # rsc_<ULID>
    invoice_id: str
    customer_id: str
    currency: str
    schedule: Schedule
    recognized_minor: int
    status: ScheduleStatus
    created_at: datetime
