"""What the ledger needs from the store (ADR 0051). The journal is append-only: no port here
updates or deletes an entry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from billing.domain.aging import Owed
from billing.domain.ledger import JournalEntry, Seal
from billing.domain.mrr import Movement
from billing.domain.recognition import RevenueSchedule, ScheduleStatus


class JournalRepository(Protocol):
    async def add(self, tenant_id: str, entries: Sequence[JournalEntry]) -> None:
        """Blind inserts of checked entries, sent with the transaction's other deferred
        writes. Call through `billing.app.books.post`, which checks the balance first."""
        ...

    async def entries(
        self,
        tenant_id: str,
        *,
        source: str | None = None,
        period: str | None = None,
        kind: str | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        limit: int = 100,
    ) -> list[JournalEntry]:
        """Entries with their lines in id order; filtered by what is given."""
        ...

    async def balances(
        self, tenant_id: str, at: datetime | None = None
    ) -> list[tuple[str, str, int, int]]:
        """(account, currency, debits, credits) per account and currency, lines posted
        before `at` (None: all)."""
        ...

    async def period_sums(
        self, tenant_id: str, start: str, end: str, base: str | None = None
    ) -> list[tuple[str, str, str, int, int]]:
        """(period, account, currency, debits, credits), periods start..end inclusive."""
        ...

    async def account_movements(
        self, tenant_id: str, account: str, through: str
    ) -> list[tuple[str, str, str, int]]:
        """(period, entry kind, currency, credits - debits) of one account."""
        ...

    async def last_seal(self, tenant_id: str) -> Seal | None: ...

    async def seals(self, tenant_id: str, after_seq: int, limit: int) -> list[Seal]: ...

    async def add_seals(self, tenant_id: str, seals: Sequence[Seal], at: datetime) -> bool:
        """Append seals; False (nothing written) when another sealer took a seq first."""
        ...

    async def count_after(self, tenant_id: str, after_id: str | None) -> int: ...

    async def closed_through(
        self, tenant_id: str, *, guard: bool = False
    ) -> tuple[str, datetime, str] | None:
        """(period, when, by whom) the books are closed through, or None. `guard`: a posting
        about to land by it holds off a concurrent close until it commits."""
        ...

    async def close_through(
        self, tenant_id: str, period: str, at: datetime, actor: str
    ) -> None: ...


class ReceivablesReads(Protocol):
    async def owed(
        self, tenant_id: str, currency: str | None, after_customer: str | None, customers: int
    ) -> list[Owed]:
        """The open invoices that still owe something, of the first `customers` customers
        (by id) after `after_customer`, by customer then invoice."""
        ...


class RevenueScheduleRepository(Protocol):
    async def add(self, tenant_id: str, schedules: Sequence[RevenueSchedule]) -> None:
        """Deferred inserts, with the invoice that creates them."""
        ...

    async def of_invoice(self, tenant_id: str, invoice_id: str) -> list[RevenueSchedule]: ...

    async def active(
        self, tenant_id: str, currency: str | None, after_id: str | None, limit: int
    ) -> list[RevenueSchedule]:
        """Schedules with something left to recognize, by id."""
        ...

    async def set_recognized(
        self, tenant_id: str, changes: Sequence[tuple[str, int, ScheduleStatus]]
    ) -> None:
        """(schedule id, recognized so far, status) each; deferred."""
        ...


class MrrRepository(Protocol):
    """MRR kept as subscriptions change (ADR 0055)."""

    async def position(self, tenant_id: str, subscription_id: str) -> int: ...

    async def customer(self, tenant_id: str, customer_id: str, currency: str) -> int | None:
        """The customer's MRR; None when it never had any."""
        ...

    async def record(
        self,
        tenant_id: str,
        *,
        movement_id: str,
        at: datetime,
        subscription_id: str,
        customer_id: str,
        currency: str,
        subscription_minor: int,
        customer_minor: int,
        kind: Movement,
        delta_minor: int,
        shard: int,
    ) -> None: ...

    async def totals(self, tenant_id: str) -> dict[str, int]: ...

    async def totals_at(self, tenant_id: str, at: datetime) -> dict[str, int]: ...

    async def movement_sums(
        self, tenant_id: str, start: datetime, end: datetime
    ) -> list[tuple[str, str, int, int]]: ...

    async def customers_at(self, tenant_id: str, at: datetime) -> dict[str, int]: ...

    async def churned(self, tenant_id: str, start: datetime, end: datetime) -> dict[str, int]: ...

    # `billing mrr rebuild` only: whole-tenant reads and absolute (not additive) writes.
    async def positions(self, tenant_id: str) -> list[tuple[str, str, str, int]]: ...

    async def positions_of(self, tenant_id: str, subscription_ids: list[str]) -> dict[str, int]: ...

    async def customer_rows(self, tenant_id: str) -> dict[tuple[str, str], int]: ...

    # (MRR in minor units, customers with MRR) per shard row or day
    async def shard_rows(self, tenant_id: str) -> dict[tuple[str, int], tuple[int, int]]: ...

    async def put_customer(
        self, tenant_id: str, customer_id: str, currency: str, minor: int
    ) -> None: ...

    async def put_total(
        self, tenant_id: str, currency: str, shard: int, tally: tuple[int, int]
    ) -> None: ...

    async def day_rows(
        self, tenant_id: str
    ) -> dict[tuple[datetime, str, int], tuple[int, int]]: ...

    async def movement_days(
        self, tenant_id: str
    ) -> dict[tuple[datetime, str], tuple[int, int]]: ...

    async def put_day(
        self, tenant_id: str, day: datetime, currency: str, shard: int, tally: tuple[int, int]
    ) -> None: ...
