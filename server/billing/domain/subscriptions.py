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
from typing import Any

from billing.domain.money import MONEY_CONTEXT, round_to_minor


class Status(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    PAUSED = "paused"
    CANCELED = "canceled"
    INCOMPLETE = "incomplete"


# Which transitions the lifecycle allows; anything else is a caller's mistake.
TRANSITIONS: Mapping[Status, frozenset[Status]] = {
    Status.TRIALING: frozenset({Status.ACTIVE, Status.CANCELED, Status.PAUSED}),
    Status.ACTIVE: frozenset({Status.PAST_DUE, Status.PAUSED, Status.CANCELED}),
    Status.PAST_DUE: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.PAUSED: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.INCOMPLETE: frozenset({Status.ACTIVE, Status.CANCELED}),
    Status.CANCELED: frozenset(),
}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


@dataclass(frozen=True)
class Item:
    """One billed thing: the plan's flat fee (price_code None) or a per-unit price."""

    price_code: str | None
    quantity: int
    unit_amount: Decimal  # one unit for a full period, after any negotiated override
    description: str
    billed_unit_amount: Decimal  # what one unit was billed at this period (credit basis)
    negotiated: bool = False  # a price Sales agreed: kept when list prices change

    @property
    def key(self) -> str:
        return self.price_code or ""

    def full_amount(self, unit_amount: Decimal | None = None) -> Decimal:
        unit = self.unit_amount if unit_amount is None else unit_amount
        return MONEY_CONTEXT.multiply(Decimal(self.quantity), unit)

    def billed(self) -> Item:
        """The item as billed for a new period at its current price."""
        return replace(self, billed_unit_amount=self.unit_amount)


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

    @property
    def name(self) -> str:
        return f"subscriptions/{self.id}"

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    @property
    def is_live(self) -> bool:
        return self.status not in {Status.CANCELED, Status.PAUSED}


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
    kind: str = "fee"  # fee, proration, usage, adjustment, discount, one_off
    derivation: Mapping[str, Any] | None = None  # how the amount was reached, for Explain


def _line(
    description: str,
    *,
    item: Item,
    unit_amount: Decimal,
    unrounded: Decimal,
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
    factor: Factor | None,
    kind: str = "fee",
) -> Line:
    derivation = {
        "rule_entry": f"prices/{item.price_code}" if item.price_code else "plan flat fee",
        "quantity": str(item.quantity),
        "unit_amount": str(unit_amount),
        "factor": str(factor) if factor is not None else None,
        "unrounded": str(unrounded),
        "rounding": rounding,
    }
    return Line(
        description=description,
        price_code=item.price_code,
        quantity=Decimal(item.quantity),
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
    billing cycle anchor)."""
    lines = []
    for item in items:
        full = item.full_amount()
        unrounded = factor.apply(full) if factor is not None else full
        suffix = f" x {factor}" if factor is not None else ""
        lines.append(
            _line(
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


def proration_lines(
    old_items: Sequence[Item],
    new_items: Sequence[Item],
    *,
    factor: Factor,
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
    credit_unused: bool,
    credit_basis: str,
    current_unit_amounts: Mapping[str, Decimal],
) -> list[Line]:
    """A credit for each old item that changes and a charge for each new one, over the share
    of the period left (`period` is [change, period end)). Unchanged items give no lines."""
    old_by_key = {item.key: item for item in old_items}
    new_by_key = {item.key: item for item in new_items}
    lines: list[Line] = []
    for key, old in old_by_key.items():
        new = new_by_key.get(key)
        if new is not None and (new.quantity, new.unit_amount) == (old.quantity, old.unit_amount):
            continue
        if credit_unused:
            unit = (
                old.billed_unit_amount
                if credit_basis == "billed"
                else current_unit_amounts.get(key, old.unit_amount)
            )
            unrounded = -factor.apply(old.full_amount(unit))
            text = f"Unused time on {old.description} x {old.quantity} ({factor})"
            lines.append(
                _line(
                    text,
                    kind="proration",
                    item=old,
                    unit_amount=unit,
                    unrounded=unrounded,
                    currency=currency,
                    rounding=rounding,
                    period=period,
                    factor=factor,
                )
            )
    for key, new in new_by_key.items():
        old_item = old_by_key.get(key)
        if old_item is not None and (old_item.quantity, old_item.unit_amount) == (
            new.quantity,
            new.unit_amount,
        ):
            continue
        unrounded = factor.apply(new.full_amount())
        text = f"Remaining time on {new.description} x {new.quantity} ({factor})"
        lines.append(
            _line(
                text,
                kind="proration",
                item=new,
                unit_amount=new.unit_amount,
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
    """The total is the sum of the lines (negative if need be); credit reduces what is due,
    never the total; what a negative total leaves over becomes customer credit."""
    total = sum(line.amount_minor for line in lines)
    if total >= 0:
        applied = min(credit_balance_minor, total)
        return Settlement(total, applied, total - applied, credit_balance_minor - applied)
    return Settlement(total, 0, 0, credit_balance_minor - total)


# --- plain-data form (JSON columns, stored replies) ----------------------------------------


def item_to_dict(item: Item) -> dict[str, object]:
    return {
        "price_code": item.price_code,
        "quantity": item.quantity,
        "unit_amount": str(item.unit_amount),
        "description": item.description,
        "billed_unit_amount": str(item.billed_unit_amount),
        "negotiated": item.negotiated,
    }


def item_from_dict(data: Mapping[str, object]) -> Item:
    return Item(
        price_code=data["price_code"],  # type: ignore[arg-type]
        quantity=int(data["quantity"]),  # type: ignore[call-overload]
        unit_amount=Decimal(str(data["unit_amount"])),
        description=str(data["description"]),
        billed_unit_amount=Decimal(str(data["billed_unit_amount"])),
        negotiated=bool(data.get("negotiated", False)),
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
        "kind": line.kind,
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
        kind=str(data.get("kind") or "fee"),
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
