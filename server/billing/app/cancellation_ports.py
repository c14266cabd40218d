"""Cancellations as Customer Experience records them: why, in the customer's words, and the
MRR that left (issue 18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.domain.contracts import Contract

UNSPECIFIED_REASON = "unspecified"


@dataclass(frozen=True)
class CancellationRecord:
    id: str
    tenant_id: str
    subscription_id: str
    customer_id: str
    reason_code: str
    feedback: str
    mode: str  # immediately | at_period_end | at
    requested_at: datetime
    effective_at: datetime
    currency: str
    mrr_minor: int
    withdrawn_at: datetime | None = None


@dataclass(frozen=True)
class CancellationQuery:
    start: datetime | None
    end: datetime | None
    reason_code: str  # "" = every reason


class CancellationRepository(Protocol):
    async def add(self, record: CancellationRecord) -> None: ...

    async def withdraw(self, tenant_id: str, subscription_id: str, at: datetime) -> None:
        """Mark the subscription's standing (not yet withdrawn) cancellations withdrawn."""
        ...

    async def page(
        self, tenant_id: str, query: CancellationQuery, after_id: str | None, limit: int
    ) -> list[CancellationRecord]:
        """Newest first (by id), after `after_id` in that order."""
        ...

    async def counts(self, tenant_id: str, query: CancellationQuery) -> dict[str, int]:
        """Standing cancellations per reason code over the whole window."""
        ...


class ContractRepository(Protocol):
    """Sales contracts as last applied (issue 18); lives here beside cancellations, the other
    upstream record of Customer Experience and Sales."""

    async def get(
        self, tenant_id: str, deal_id: str, *, for_update: bool = False
    ) -> Contract | None: ...

    async def insert(self, tenant_id: str, contract: Contract) -> bool: ...

    async def update(self, tenant_id: str, contract: Contract, expected_revision: int) -> bool: ...
