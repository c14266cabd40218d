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


@dataclass(frozen=True, slots=True)
class CaseSums:
    """Sums over a group of cases, in the group's currency. Owed: a case's amount less what
    it recovered."""

    cases: int
    in_dunning_minor: int  # owed by the open (active, paused) cases
    recovered_minor: int
    lost_minor: int  # owed by the exhausted cases

    def __add__(self, other: CaseSums) -> CaseSums:
        return CaseSums(
            self.cases + other.cases,
            self.in_dunning_minor + other.in_dunning_minor,
            self.recovered_minor + other.recovered_minor,
            self.lost_minor + other.lost_minor,
        )


@dataclass(frozen=True, slots=True)
class StepGroup:
    """Cases of one currency that reached the same step of the same policy version."""

    currency: str
    rule_set: str
    policy: str
    steps_done: int  # 0: no step yet
    sums: CaseSums


@dataclass(frozen=True, slots=True)
class DeclineGroup:
    """Cases of one currency opened by the same decline code."""

    currency: str
    decline_code: str
    sums: CaseSums


@dataclass(frozen=True, slots=True)
class ReportWindow:
    start: datetime | None = None  # cases started at or after; None: from the first
    end: datetime | None = None  # cases started before; None: no bound


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

    async def step_groups(
        self, tenant_id: str, window: ReportWindow, limit: int
    ) -> list[StepGroup]:
        """Sums per (currency, rule set, policy, steps done) of the cases started in the
        window, summed by the database; at most `limit` groups."""
        ...

    async def decline_groups(
        self, tenant_id: str, window: ReportWindow, limit: int
    ) -> list[DeclineGroup]:
        """Sums per (currency, first decline code) of the cases started in the window."""
        ...

    async def hold(self, tenant_id: str, customer_id: str) -> DunningHold | None: ...

    async def put_hold(self, tenant_id: str, hold: DunningHold) -> None: ...

    async def release_hold(self, tenant_id: str, customer_id: str) -> bool: ...
