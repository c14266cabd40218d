"""Credits follow what was actually paid: what each item was invoiced for the current period
(net of the coupon), how much of a period is still creditable, and the lines that show a
capped credit (repair) and a negative invoice's excess moved to the customer's credit balance
(account credit), the way Kill Bill shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from billing.domain.money import MONEY_CONTEXT, Money, round_to_minor, within_stored_places
from billing.domain.subscriptions import (
    NOT_BILLED,
    Billed,
    Factor,
    Item,
    Line,
    LineKind,
    exact_line,
    priced_line,
)

# Lines a coupon discounts. Credits are not among them: they are worked out from what was
# paid after the coupon already, and discounting them again would take the coupon twice.
DISCOUNTABLE_KINDS = frozenset(
    {LineKind.RECURRING, LineKind.PRORATION_CHARGE, LineKind.USAGE, LineKind.ONE_OFF}
)
CREDIT_KINDS = frozenset({LineKind.PRORATION_CREDIT, LineKind.CANCELLATION_CREDIT})
# What a period's subscription fees are made of: charges, credits and their corrections.
PERIOD_KINDS = frozenset(
    {
        LineKind.RECURRING,
        LineKind.PRORATION_CHARGE,
        LineKind.PRORATION_CREDIT,
        LineKind.CANCELLATION_CREDIT,
        LineKind.REPAIR,
    }
)


def _ratio(part: Decimal, whole: Decimal) -> Decimal:
    return MONEY_CONTEXT.divide(part, whole) if whole else Decimal(0)


def _major(minor: int, currency: str) -> Decimal:
    return Money(currency, minor).to_decimal()


def discount_shares(lines: Sequence[Line], currency: str) -> list[Decimal]:
    """Each line's share of the invoice's discount lines (positive), pro rata over the
    discountable lines; zero for the others."""
    discount = -sum(line.amount_minor for line in lines if line.kind == LineKind.DISCOUNT)
    base = sum(line.amount_minor for line in lines if line.kind in DISCOUNTABLE_KINDS)
    if discount <= 0 or base <= 0:
        return [Decimal(0)] * len(lines)
    total = _major(discount, currency)
    return [
        MONEY_CONTEXT.divide(MONEY_CONTEXT.multiply(total, Decimal(line.amount_minor)), base)
        if line.kind in DISCOUNTABLE_KINDS
        else Decimal(0)
        for line in lines
    ]


def record_paid(
    items: Sequence[Item], lines: Sequence[Line], currency: str, period: tuple[datetime, datetime]
) -> tuple[Item, ...]:
    """The items with what the invoice's fee lines for `period` actually charged for them (as
    rounded) and the coupon's share of it: the basis of any credit later in the period."""
    shares = discount_shares(lines, currency)
    recorded = []
    for item in items:
        amount, discount = Decimal(0), Decimal(0)
        for line, share in zip(lines, shares, strict=True):
            if (
                line.kind == LineKind.RECURRING
                and line.price_code == item.price_code
                and (line.period_start, line.period_end) == period
            ):
                amount = MONEY_CONTEXT.add(amount, _major(line.amount_minor, currency))
                discount = MONEY_CONTEXT.add(discount, share)
        recorded.append(replace(item, paid=Billed(amount, discount, item.quantity)))
    return tuple(recorded)


def carry_paid(old_items: Sequence[Item], new_items: Sequence[Item]) -> tuple[Item, ...]:
    """New items after a change that bills nothing: each keeps what its key was paid for the
    period (a key the old items lacked was paid nothing), whatever its new price or quantity."""
    paid = {item.key: item.billed_record() for item in old_items}
    return tuple(replace(item, paid=paid.get(item.key, NOT_BILLED)) for item in new_items)


@dataclass(frozen=True)
class NetPaid:
    """What each credited item paid net of the coupon, and the records of the items that stay."""

    credited: Mapping[str, Billed]
    remaining: Mapping[str, Billed]


def net_paid(old_items: Sequence[Item], changed: Iterable[str], convention: str) -> NetPaid:
    """The coupon's share by the rule's `discount_credit`: `spread` leaves each item the share
    its invoice gave it (pro rata); `keep_on_remaining` moves the whole coupon onto the items
    that stay, up to what they were paid, and only the rest onto the credited ones."""
    changed_keys = set(changed)
    records = {item.key: item.billed_record() for item in old_items}
    credited = {k: b for k, b in records.items() if k in changed_keys}
    remaining = {k: b for k, b in records.items() if k not in changed_keys}
    if convention != "keep_on_remaining":
        return NetPaid(credited, remaining)
    coupon = sum((b.discount for b in records.values()), Decimal(0))
    room = sum((b.amount for b in remaining.values()), Decimal(0))
    kept = min(coupon, room)
    left = MONEY_CONTEXT.subtract(coupon, kept)
    credited_gross = sum((b.amount for b in credited.values()), Decimal(0))
    return NetPaid(
        {
            k: replace(b, discount=MONEY_CONTEXT.multiply(left, _ratio(b.amount, credited_gross)))
            for k, b in credited.items()
        },
        {
            k: replace(b, discount=MONEY_CONTEXT.multiply(kept, _ratio(b.amount, room)))
            for k, b in remaining.items()
        },
    )


@dataclass(frozen=True)
class PeriodInvoice:
    """An invoice of the subscription as far as one period's credit is concerned."""

    lines: Sequence[Line]
    total_minor: int
    credited_minor: int  # credit notes issued against it
    void: bool = False


def creditable_minor(
    invoices: Sequence[PeriodInvoice],
    pending: Sequence[Line],
    currency: str,
    period: tuple[datetime, datetime],
) -> int:
    """What is still creditable for `period`: its fees as invoiced (and pending), net of the
    coupon's share, of earlier credits and repairs, and of credit notes (each credit note
    taken from the period in proportion to the period's share of its invoice's total)."""
    start, end = period

    def of_period(line: Line) -> bool:
        return line.kind in PERIOD_KINDS and line.period_end == end and line.period_start >= start

    total = Decimal(0)
    for invoice in invoices:
        if invoice.void:
            continue
        shares = discount_shares(invoice.lines, currency)
        gross = sum(line.amount_minor for line in invoice.lines if of_period(line))
        share = sum(
            (s for line, s in zip(invoice.lines, shares, strict=True) if of_period(line)),
            Decimal(0),
        )
        net = MONEY_CONTEXT.subtract(_major(gross, currency), share)
        if invoice.credited_minor and invoice.total_minor > 0:
            credited = _major(invoice.credited_minor, currency)
            part = min(Decimal(1), _ratio(net, _major(invoice.total_minor, currency)))
            net = MONEY_CONTEXT.subtract(net, MONEY_CONTEXT.multiply(credited, part))
        total = MONEY_CONTEXT.add(total, net)
    pending_minor = sum(line.amount_minor for line in pending if of_period(line))
    total = MONEY_CONTEXT.add(total, _major(pending_minor, currency))
    # Rounded down: a fraction of a cent nobody paid is not credited.
    return round_to_minor(total, currency, "down").amount_minor if total > 0 else 0


def repair_line(
    credits: Sequence[Line], creditable: int, currency: str, period: tuple[datetime, datetime]
) -> Line | None:
    """A positive line taking back the part of `credits` beyond what is still creditable for
    the period (it was returned already, by credit notes or earlier credits); None if none."""
    asked = -sum(line.amount_minor for line in credits if line.kind in CREDIT_KINDS)
    excess = asked - max(creditable, 0)
    if asked <= 0 or excess <= 0:
        return None
    return exact_line(
        "Credit beyond what remains paid for this period (already returned)",
        excess,
        currency,
        period,
        LineKind.REPAIR,
        {
            "rule_entry": "credit cap",
            "credits": str(_major(asked, currency)),
            "creditable": str(_major(max(creditable, 0), currency)),
        },
    )


def account_credit_line(
    lines: Sequence[Line], currency: str, period: tuple[datetime, datetime]
) -> Line | None:
    """A negative invoice's excess, as a positive line that moves it to the customer's credit
    balance: the invoice totals zero instead of going silently negative."""
    total = sum(line.amount_minor for line in lines)
    if total >= 0:
        return None
    return exact_line(
        "Credit added to the account",
        -total,
        currency,
        period,
        LineKind.ACCOUNT_CREDIT,
        {"rule_entry": "account credit"},
    )


# --- the lines of a change or a cancellation ------------------------------------------------


@dataclass(frozen=True)
class Proration:
    """A change's lines, and its new items, each with what it is now paid for the period."""

    lines: tuple[Line, ...]
    items: tuple[Item, ...]


def _same(a: Item | None, b: Item | None) -> bool:
    return (
        a is not None
        and b is not None
        and (a.quantity, a.unit_amount)
        == (
            b.quantity,
            b.unit_amount,
        )
    )


def proration_lines(
    old_items: Sequence[Item],
    new_items: Sequence[Item],
    *,
    factor: Factor,
    credit_factor: Callable[[datetime | None], Factor],
    currency: str,
    rounding: str,
    period: tuple[datetime, datetime],
    credit_unused: bool,
    credit_basis: str,
    current_unit_amounts: Mapping[str, Decimal],
    discount_credit: str = "spread",
    credit_kind: LineKind = LineKind.PRORATION_CREDIT,
) -> Proration:
    """A credit for each old item that changes and a charge for each new one, over the share
    of the period left (`period` is [change, period end)). Unchanged items give no lines, nor
    does any line that comes to zero (a quantity set to 0 adds no 0.00 charge).

    A credit is the unused share of what the item was actually paid net of the coupon
    (`credit_factor(since)` measures it over the span the payment covered); with
    `credit_basis: current_price` the item's price today replaces the price paid, the coupon's
    proportion still taken off."""
    old_by_key = {item.key: item for item in old_items}
    new_by_key = {item.key: item for item in new_items}
    changed = [k for k in old_by_key if not _same(old_by_key[k], new_by_key.get(k))]
    paid = net_paid(old_items, changed, discount_credit)
    lines: list[Line] = []
    for key in changed if credit_unused else ():
        old, billed = old_by_key[key], paid.credited[key]
        if billed.amount <= 0:
            continue  # nothing was paid for it this period: nothing to give back
        share = credit_factor(billed.since)
        base = billed.net
        if credit_basis != "billed":
            list_price = MONEY_CONTEXT.multiply(
                Decimal(billed.quantity), current_unit_amounts.get(key, old.unit_amount)
            )
            base = MONEY_CONTEXT.multiply(list_price, _ratio(billed.net, billed.amount))
            share = credit_factor(None)
        # What the base comes to a unit, for the line to show: to the places a stored decimal
        # keeps (0.17 / 3 has 38 digits); the credit itself is share x base, not unit x quantity.
        unit = (
            within_stored_places(MONEY_CONTEXT.divide(base, Decimal(billed.quantity)))
            if billed.quantity
            else base
        )
        line = priced_line(
            f"Unused time on {old.description} x {billed.quantity} ({share})",
            kind=credit_kind,
            item=old,
            quantity=billed.quantity,
            unit_amount=unit,
            unrounded=-share.apply(base),
            currency=currency,
            rounding=rounding,
            period=period,
            factor=share,
        )
        if line.amount_minor:
            lines.append(line)
    items: list[Item] = []
    for key, new in new_by_key.items():
        if _same(old_by_key.get(key), new):
            items.append(replace(new, paid=paid.remaining[key]))
            continue
        line = priced_line(
            f"Remaining time on {new.description} x {new.quantity} ({factor})",
            kind=LineKind.PRORATION_CHARGE,
            item=new,
            unit_amount=new.unit_amount,
            unrounded=factor.apply(new.full_amount()),
            currency=currency,
            rounding=rounding,
            period=period,
            factor=factor,
        )
        if line.amount_minor:
            lines.append(line)
        charged = _major(line.amount_minor, currency)
        items.append(replace(new, paid=Billed(charged, Decimal(0), new.quantity, period[0])))
    return Proration(tuple(lines), tuple(items))
