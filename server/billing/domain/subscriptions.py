"""Subscriptions as plain data, and the lines their periods and changes produce.

Every amount here is computed unrounded and rounded once per line, with the rounding the
money rules name; invoice totals are sums of rounded lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from billing.domain.errors import InvalidState
from billing.domain.money import MONEY_CONTEXT, Money, check_minor, round_to_minor


class Status(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"
    UNPAID = "unpaid"


# Which transitions the lifecycle allows; anything else is a bug or a caller's mistake.
# Dunning moves a subscription whose invoice is not paid to past_due, and when its retries
# are exhausted to unpaid (still a customer, no longer billed until paid) or canceled;
# paying brings it back to active. Canceled is final.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.INCOMPLETE: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.TRIALING: frozenset({Status.ACTIVE, Status.PAST_DUE, Status.PAUSED, Status.CANCELED}),
    Status.ACTIVE: frozenset({Status.PAST_DUE, Status.PAUSED, Status.CANCELED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.UNPAID, Status.PAUSED, Status.CANCELED}),
    Status.UNPAID: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.PAUSED: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.CANCELED: frozenset(),
}
# Statuses a new subscription starts in.
INITIAL: frozenset[Status] = frozenset({Status.ACTIVE, Status.TRIALING, Status.INCOMPLETE})


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def moved(current: Status, target: Status) -> Status:
    """`target` if the table allows moving there from `current` (staying put is no move),
    else InvalidState. Every status change goes through here."""
    if target != current and not can_move(current, target):
        raise InvalidState(
            f"a {current.value} subscription cannot become {target.value}",
            "SUBSCRIPTION_TRANSITION",
        )
    return target


@dataclass(frozen=True)
class Billed:
    """What an item was actually invoiced for the rest of the current period: `amount` (as
    rounded on the invoice) covers [since, period end), `discount` is the coupon's share of it.
    A credit for unused time is a share of this, never of a price that was not billed."""

    amount: Decimal
    discount: Decimal
    quantity: int
    since: datetime | None = None  # None: the current period's start

    @property
    def net(self) -> Decimal:
        return MONEY_CONTEXT.subtract(self.amount, self.discount)


NOT_BILLED = Billed(Decimal(0), Decimal(0), 0)


@dataclass(frozen=True)
class Item:
    """One billed thing: the plan's flat fee (price_code None) or a per-unit price."""

    price_code: str | None
    quantity: int
    unit_amount: Decimal  # one unit for a full period, after any negotiated override
    description: str
    billed_unit_amount: Decimal  # the unit price of the last full period billed
    negotiated: bool = False  # a price Sales agreed: kept when list prices change
    paid: Billed | None = None  # None (items stored before it): a full period at the unit price

    @property
    def key(self) -> str:
        return self.price_code or ""

    def full_amount(self, unit_amount: Decimal | None = None) -> Decimal:
        unit = self.unit_amount if unit_amount is None else unit_amount
        return MONEY_CONTEXT.multiply(Decimal(self.quantity), unit)

    def billed(self) -> Item:
        """The item as billed for a new period at its current price (the invoice's lines,
        rounded and discounted, replace `paid` once known: `record_paid`)."""
        return replace(
            self,
            billed_unit_amount=self.unit_amount,
            paid=Billed(self.full_amount(), Decimal(0), self.quantity),
        )

    def billed_record(self) -> Billed:
        if self.paid is not None:
            return self.paid
        return Billed(self.full_amount(self.billed_unit_amount), Decimal(0), self.quantity)


@dataclass(frozen=True)
class PendingChange:
    plan_code: str
    items: tuple[Item, ...]
    effective_at: datetime


@dataclass(frozen=True)
class Phase:
    """From billing period `start_period` on: another plan, quantities or prices."""

    start_period: int
    plan_code: str
    quantities: Mapping[str, int]
    price_overrides: Mapping[str, str]


class MeteredSubscription(NamedTuple):
    """What checking a usage event needs of its subscription: read for every subscription a
    batch of events names (tens of thousands of events a second), so a few columns, no
    items, phases or pending change."""

    id: str
    status: Status
    canceled_at: datetime | None
    plan_code: str
    currency: str
    period_start: datetime
    clock_id: str | None

    @classmethod
    def of(cls, sub: Subscription) -> MeteredSubscription:
        return cls(
            sub.id,
            sub.status,
            sub.canceled_at,
            sub.plan_code,
            sub.currency,
            sub.period_start,
            sub.clock_id,
        )


@dataclass(frozen=True)
class Subscription:
    id: str
    customer_id: str
    plan_code: str
    currency: str
    status: Status
    items: tuple[Item, ...]
    anchor: datetime
    interval: str
    interval_count: int
    time_zone: str
    period_start: datetime
    period_end: datetime
    created_at: datetime
    version: int
    rule_set: str
    clock_id: str | None = None
    trial_end: datetime | None = None
    cancel_at: datetime | None = None
    cancel_at_period_end: bool = False
    canceled_at: datetime | None = None
    paused_at: datetime | None = None
    pending_change: PendingChange | None = None
    term_end: datetime | None = None
    auto_renew: bool = True
    phases: tuple[Phase, ...] = ()
    coupon_code: str | None = None  # a coupon still applying
    coupon_periods_left: int | None = None  # None with a coupon: forever
    anchor_day: int = 0  # day of month billing starts on, also after a trial; 0: the start
    first_stub: str = "prorate"  # a StubProration value: how a first stub is charged
    base_subscription_id: str | None = None  # an add-on's periods align to this one's

    @property
    def name(self) -> str:
        return f"subscriptions/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def is_live(self) -> bool:
        return self.status not in {Status.CANCELED, Status.PAUSED}


def ending_at_period_end(sub: Subscription) -> Subscription:
    """`sub` set to end when its current period does: the renewal then ends it instead."""
    return replace(
        sub, cancel_at_period_end=True, cancel_at=sub.period_end, version=sub.version + 1
    )


class StubProration(StrEnum):
    """How a first period shorter than an interval (up to the anchor) is charged."""

    PRORATE = "prorate"  # its share of the full interval ending at the anchor
    NONE = "none"  # free: nothing is invoiced until the anchor
    FULL = "full"  # a whole period's price


@dataclass(frozen=True)
class Factor:
    """An unreduced share of a period: `15/30 days`."""

    numerator: int
    denominator: int
    unit: str

    def apply(self, amount: Decimal) -> Decimal:
        return MONEY_CONTEXT.divide(
            MONEY_CONTEXT.multiply(amount, Decimal(self.numerator)), Decimal(self.denominator)
        )

    def __str__(self) -> str:
        return f"{self.numerator}/{self.denominator} {self.unit}"


class LineKind(StrEnum):
    """What a line is. The values are what the store keeps (readable text)."""

    RECURRING = "recurring"  # a period's fee, in advance
    PRORATION_CREDIT = "proration_credit"  # unused time on what a change replaced
    PRORATION_CHARGE = "proration_charge"  # remaining time on what a change added
    REPAIR = "repair"  # takes back the part of a credit already returned (credit notes)
    ACCOUNT_CREDIT = "account_credit"  # a negative invoice's excess moved to customer credit
    CANCELLATION_CREDIT = "cancellation_credit"  # unused time on a subscription ended early
    USAGE = "usage"  # metered usage in arrears, and re-rated late usage
    DISCOUNT = "discount"  # a coupon
    ONE_OFF = "one_off"  # a line added by hand to a draft
    TAX = "tax"  # reserved for tax
    ROUNDING = "rounding"  # cash rounding of the total to an increment (CHF 0.05)

    @classmethod
    def stored(cls, value: object, amount_minor: int) -> LineKind:
        """A stored kind, the loose values of before included (fee, proration, adjustment)."""
        text = str(value or "fee")
        if text == "fee":
            return cls.RECURRING
        if text == "proration":
            return cls.PRORATION_CREDIT if amount_minor < 0 else cls.PRORATION_CHARGE
        if text == "adjustment":
            return cls.USAGE
        return cls(text)


@dataclass(frozen=True)
class Line:
    """A priced line, rounded once."""

    description: str
    price_code: str | None
    quantity: Decimal
    unit_amount: Decimal
    unrounded: Decimal
    amount_minor: int
    period_start: datetime
    period_end: datetime
    proration: bool = False
    factor: str = ""
    kind: LineKind = LineKind.RECURRING
    derivation: Mapping[str, Any] | None = None  # how the amount was reached, for Explain


def exact_line(
    description: str,
    amount_minor: int,
    currency: str,
    period: tuple[datetime, datetime],
    kind: LineKind,
    derivation: dict[str, object],
) -> Line:
    """A line of one unit at an amount already exact in minor units (a rounding, a repair, an
    account credit): nothing is priced or rounded, so unit, unrounded and amount agree."""
    amount = Money(currency, amount_minor).to_decimal()
    return Line(
        description=description,
        price_code=None,
        quantity=Decimal(1),
        unit_amount=amount,
        unrounded=amount,
        amount_minor=amount_minor,
        period_start=period[0],
        period_end=period[1],
        kind=kind,
        derivation={**derivation, "unrounded": str(amount)},
    )


def priced_line(
    description: str,
    *,
    item: Item,
    unit_amount: Decimal,
    unrounded: Decimal,
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
    factor: Factor | None,
    kind: LineKind = LineKind.RECURRING,
    quantity: int | None = None,
) -> Line:
    derivation = {
        "rule_entry": f"prices/{item.price_code}" if item.price_code else "plan flat fee",
        "quantity": str(item.quantity if quantity is None else quantity),
        "unit_amount": str(unit_amount),
        "factor": str(factor) if factor is not None else None,
        "unrounded": str(unrounded),
        "rounding": rounding,
    }
    return Line(
        description=description,
        price_code=item.price_code,
        quantity=Decimal(item.quantity if quantity is None else quantity),
        unit_amount=unit_amount,
        unrounded=unrounded,
        amount_minor=round_to_minor(unrounded, currency, rounding).amount_minor,
        period_start=period[0],
        period_end=period[1],
        proration=factor is not None,
        factor=str(factor) if factor is not None else "",
        kind=kind,
        derivation=derivation,
    )


def period_fee_lines(
    items: Sequence[Item],
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
    factor: Factor | None = None,
) -> list[Line]:
    """Fees in advance for a period; `factor` prorates a stub period (first period before a
    billing cycle anchor). An item at quantity 0 (every seat removed) bills nothing and shows
    no 0.00 line."""
    lines = []
    for item in items:
        if item.quantity == 0:
            continue
        full = item.full_amount()
        unrounded = factor.apply(full) if factor is not None else full
        suffix = f" x {factor}" if factor is not None else ""
        lines.append(
            priced_line(
                f"{item.description} x {item.quantity}{suffix}",
                item=item,
                unit_amount=item.unit_amount,
                unrounded=unrounded,
                currency=currency,
                rounding=rounding,
                period=period,
                factor=factor,
            )
        )
    return lines


@dataclass(frozen=True)
class Settlement:
    total_minor: int
    credit_applied_minor: int
    amount_due_minor: int
    credit_balance_after_minor: int


def settle(lines: Sequence[Line], credit_balance_minor: int) -> Settlement:
    """The total is the sum of the lines; credit reduces what is due, never the total. An
    account credit line (a negative invoice's excess) adds to the customer's credit; a
    negative total without one (a hand-made invoice) becomes customer credit as well."""
    total = check_minor(sum(line.amount_minor for line in lines), "the invoice total")
    added = sum(line.amount_minor for line in lines if line.kind == LineKind.ACCOUNT_CREDIT)
    balance = credit_balance_minor + added
    if total >= 0:
        applied = min(balance, total)
        return Settlement(total, applied, total - applied, balance - applied)
    return Settlement(total, 0, 0, balance - total)


# --- plain-data form (JSON columns, stored replies) ----------------------------------------


def item_to_dict(item: Item) -> dict[str, object]:
    return {
        "price_code": item.price_code,
        "quantity": item.quantity,
        "unit_amount": str(item.unit_amount),
        "description": item.description,
        "billed_unit_amount": str(item.billed_unit_amount),
        "negotiated": item.negotiated,
        "paid": None if item.paid is None else _billed_to_dict(item.paid),
    }


def _billed_to_dict(paid: Billed) -> dict[str, object]:
    return {
        "amount": str(paid.amount),
        "discount": str(paid.discount),
        "quantity": paid.quantity,
        "since": paid.since.isoformat() if paid.since is not None else None,
    }


def _billed_from_dict(data: Mapping[str, Any]) -> Billed:
    since = data.get("since")
    return Billed(
        Decimal(str(data["amount"])),
        Decimal(str(data["discount"])),
        int(data["quantity"]),
        datetime.fromisoformat(since) if since else None,
    )


def item_from_dict(data: Mapping[str, object]) -> Item:
    return Item(
        price_code=data["price_code"],  # type: ignore[arg-type]
        quantity=int(data["quantity"]),  # type: ignore[call-overload]
        unit_amount=Decimal(str(data["unit_amount"])),
        description=str(data["description"]),
        billed_unit_amount=Decimal(str(data["billed_unit_amount"])),
        negotiated=bool(data.get("negotiated", False)),
        paid=_billed_from_dict(data["paid"]) if data.get("paid") else None,  # type: ignore[arg-type]
    )


def line_to_dict(line: Line) -> dict[str, object]:
    return {
        "description": line.description,
        "price_code": line.price_code,
        "quantity": str(line.quantity),
        "unit_amount": str(line.unit_amount),
        "unrounded": str(line.unrounded),
        "amount_minor": line.amount_minor,
        "period_start": line.period_start.isoformat(),
        "period_end": line.period_end.isoformat(),
        "proration": line.proration,
        "factor": line.factor,
        "kind": line.kind.value,
        "derivation": dict(line.derivation) if line.derivation else None,
    }


def line_from_dict(data: Mapping[str, object]) -> Line:
    return Line(
        description=str(data["description"]),
        price_code=data["price_code"],  # type: ignore[arg-type]
        quantity=Decimal(str(data["quantity"])),
        unit_amount=Decimal(str(data["unit_amount"])),
        unrounded=Decimal(str(data["unrounded"])),
        amount_minor=int(data["amount_minor"]),  # type: ignore[call-overload]
        period_start=datetime.fromisoformat(str(data["period_start"])),
        period_end=datetime.fromisoformat(str(data["period_end"])),
        proration=bool(data["proration"]),
        factor=str(data["factor"]),
        kind=LineKind.stored(data.get("kind"), int(data["amount_minor"])),  # type: ignore[call-overload]
        derivation=data.get("derivation"),  # type: ignore[arg-type]
    )


def phase_to_dict(phase: Phase) -> dict[str, object]:
    return {
        "start_period": phase.start_period,
        "plan_code": phase.plan_code,
        "quantities": dict(phase.quantities),
        "price_overrides": dict(phase.price_overrides),
    }


def phase_from_dict(data: Mapping[str, Any]) -> Phase:
    return Phase(
        int(data["start_period"]),
        str(data["plan_code"]),
        dict(data["quantities"]),
        dict(data["price_overrides"]),
    )
