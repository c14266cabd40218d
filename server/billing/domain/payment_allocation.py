"""Where money received goes (ADR 0034): invoices first, each at most what it still owes,
the rest to the customer's credit balance. Pure functions over amounts in minor units."""

from __future__ import annotations

from collections.abc import Sequence

from billing.domain.payments import Allocation


def oldest_first(amount_minor: int, owed: Sequence[tuple[str, int]]) -> tuple[Allocation, ...]:
    """Allocations of `amount_minor` over `owed` ((invoice id, still owed), oldest first),
    each invoice paid as far as the money goes; the caller credits the rest."""
    left = amount_minor
    allocations: list[Allocation] = []
    for invoice_id, still_owed in owed:
        if left <= 0:
            break
        take = min(left, still_owed)
        if take > 0:
            allocations.append(Allocation(invoice_id, take))
            left -= take
    return tuple(allocations)


def to_credit(amount_minor: int, allocations: Sequence[Allocation]) -> int:
    """What is left of the amount after the allocations (never negative: callers check)."""
    rest = amount_minor - sum(a.amount_minor for a in allocations)
    if rest < 0:
        raise ValueError("allocations exceed the amount received")
    return rest
