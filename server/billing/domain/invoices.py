"""Invoices as plain data: lines rounded once each, the total their sum."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing.domain.subscriptions import Line, Settlement


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    PAID = "paid"
    VOID = "void"
    UNCOLLECTIBLE = "uncollectible"


@dataclass(frozen=True)
class Invoice:
    id: str
    customer_id: str
    subscription_id: str | None
    currency: str
    status: InvoiceStatus
    billing_reason: str  # subscription_create, subscription_cycle, subscription_update, final
    period_start: datetime
    period_end: datetime
    lines: tuple[Line, ...]
    settlement: Settlement
    rule_set: str
    created_at: datetime
    finalized_at: datetime | None
    version: int = 1

    @property
    def name(self) -> str:
        return f"invoices/{self.id}"

    def __post_init__(self) -> None:
        # The one invariant finance relies on above all.
        if sum(line.amount_minor for line in self.lines) != self.settlement.total_minor:
            raise ValueError("an invoice total must be the sum of its lines")
