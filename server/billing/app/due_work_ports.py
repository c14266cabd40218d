"""What the operator's view of due work (ADR 0058) and exactly-once invoice delivery ask of
the store: rows as they stand, an item taken out of turn, and the delivery record."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.app.ports import DueItem


class DueFilter(enum.Enum):
    ALL = "all"  # every unfinished item
    STUCK = "stuck"
    FAILING = "failing"
    PARKED = "parked"


@dataclass(frozen=True)
class DueRow:
    """A due item as stored, for a person to look at."""

    tenant_id: str
    id: str
    kind: str
    subject_id: str  # the subscription, or a one-off invoice, a dunning case...
    clock_id: str | None
    due_at: datetime
    payload: str
    attempts: int
    last_error: str
    lease_owner: str | None
    lease_until: datetime | None
    parked_at: datetime | None
    done_at: datetime | None
    clock_now: datetime | None  # its simulation clock's time; None on real time

    def item(self) -> DueItem:
        return DueItem(
            self.tenant_id,
            self.id,
            self.kind,
            self.subject_id,
            self.clock_id,
            self.due_at,
            self.payload,
            self.attempts,
        )


class DueWorkAdminRepository(Protocol):
    async def get(self, tenant_id: str, item_id: str) -> DueRow | None: ...

    async def list_after(
        self,
        tenant_id: str | None,
        which: DueFilter,
        kind: str,
        after_id: str | None,
        limit: int,
        wall_now: datetime,
        stuck_before: datetime,
    ) -> list[DueRow]:
        """Unfinished items of the tenant (None: every tenant) by id. STUCK: not parked, due
        on its clock, and (real time) due before `stuck_before` or (a simulation clock) due
        at all."""
        ...

    async def earlier_unfinished(self, row: DueRow) -> str | None:
        """The id of an unfinished item of the same subject due before it, if any."""
        ...

    async def take(
        self, tenant_id: str, item_id: str, owner: str, lease_until: datetime, wall_now: datetime
    ) -> DueItem | None:
        """Lease the item to `owner` out of turn (parked or not), counting an attempt; None if
        it is done or leased by a live worker."""
        ...

    async def park(self, tenant_id: str, item_id: str, at: datetime, wall_now: datetime) -> bool:
        """Park an unfinished item no live worker holds; False otherwise."""
        ...


class DeliveryState(enum.Enum):
    SENDING = "sending"  # recorded before the SMTP conversation: it may have been sent
    SENT = "sent"  # the server accepted it, recorded with the item done
    FAILED = "failed"  # refused for good, or out of attempts


@dataclass(frozen=True)
class DeliveryRecord:
    """One invoice's email: its Message-ID and Date are fixed when first recorded, so every
    send of it is the same message (ADR 0058)."""

    tenant_id: str
    invoice_id: str
    message_id: str  # with angle brackets
    recipient: str
    state: DeliveryState
    started_at: datetime  # the message's Date header
    sends: int  # SMTP conversations begun
    sent_at: datetime | None = None


class InvoiceDeliveryRepository(Protocol):
    async def get(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> DeliveryRecord | None: ...

    async def start(self, record: DeliveryRecord) -> None:
        """Insert a new record in state `sending`."""
        ...

    async def count_send(self, tenant_id: str, invoice_id: str) -> None:
        """One more SMTP conversation begun for it."""
        ...

    async def finish(
        self, tenant_id: str, invoice_id: str, state: DeliveryState, at: datetime
    ) -> bool:
        """`sending` → `state`; False if it was not `sending`."""
        ...
