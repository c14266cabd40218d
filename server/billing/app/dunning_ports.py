"""What the dunning use cases need from storage (ADR 0043)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.domain.dunning import CaseStatus, DunningCase


@dataclass(frozen=True, slots=True)
class DunningHold:
    """Finance paused the customer's dunning (PauseDunning) until ResumeDunning."""

    customer_id: str
    reason: str
    actor: str
    held_at: datetime


class DunningCaseRepository(Protocol):
    async def insert(self, tenant_id: str, case: DunningCase) -> None:
        """A new case; the invoice has none (one case per invoice, ever: a second insert
        for the same invoice fails on the unique key)."""
        ...

    async def get(
        self, tenant_id: str, case_id: str, *, lock: bool = False
    ) -> DunningCase | None: ...

    async def for_invoice(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> DunningCase | None: ...

    async def update(self, tenant_id: str, case: DunningCase, version: int) -> bool:
        """Compare-and-set: False when the stored case is no longer at `version`."""
        ...

    async def open_for_customer(
        self, tenant_id: str, customer_id: str, *, lock: bool = False
    ) -> list[DunningCase]:
        """Active and paused cases, oldest first."""
        ...

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        status: CaseStatus | None,
        after_id: str | None,
        limit: int,
    ) -> list[DunningCase]:
        """Newest first, older than `after_id` if given."""
        ...

    async def hold(self, tenant_id: str, customer_id: str) -> DunningHold | None: ...

    async def put_hold(self, tenant_id: str, hold: DunningHold) -> None: ...

    async def release_hold(self, tenant_id: str, customer_id: str) -> bool: ...
