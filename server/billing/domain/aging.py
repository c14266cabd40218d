"""Accounts receivable aging (issue 17): what customers owe, by how long it is past due.
Pure: the open amounts in, the buckets out."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

# Upper bounds (days past due, inclusive) of the buckets after `current`; the last is open.
BUCKETS: tuple[str, ...] = ("current", "1-30", "31-60", "61-90", "over_90")
_BOUNDS = (0, 30, 60, 90)


@dataclass(frozen=True)
class Owed:
    """One open invoice's unpaid amount and the day it fell due."""

    customer_id: str
    invoice_id: str
    currency: str
    due_at: datetime  # the due date (send_invoice), else the finalization
    remaining_minor: int


@dataclass(frozen=True)
class AgingRow:
    customer_id: str
    currency: str
    buckets: tuple[int, ...]  # minor units, in BUCKETS order
    invoices: int

    @property
    def total_minor(self) -> int:
        return sum(self.buckets)


def bucket_of(due_at: datetime, as_of: datetime) -> int:
    """The bucket index of an amount due at `due_at`, seen at `as_of`: whole days past due
    (a part day counts as a day), not yet due is `current`."""
    late = as_of - due_at
    if late <= timedelta(0):
        return 0
    days = late.days + (1 if late - timedelta(days=late.days) else 0)
    for index, bound in enumerate(_BOUNDS):
        if days <= bound:
            return index
    return len(_BOUNDS)


def age(owed: Iterable[Owed], as_of: datetime) -> list[AgingRow]:
    """One row per customer and currency, in the order first seen; amounts not yet due at
    `as_of` are current."""
    rows: dict[tuple[str, str], list[int]] = {}
    counts: dict[tuple[str, str], int] = {}
    for item in owed:
        key = (item.customer_id, item.currency)
        buckets = rows.setdefault(key, [0] * len(BUCKETS))
        buckets[bucket_of(item.due_at, as_of)] += item.remaining_minor
        counts[key] = counts.get(key, 0) + 1
    return [
        AgingRow(customer, currency, tuple(buckets), counts[(customer, currency)])
        for (customer, currency), buckets in rows.items()
    ]
