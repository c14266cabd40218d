"""The storage payments need (ADR 0034), beside `billing.app.ports`.

Each repository becomes a property of `Transaction` (`tx.payment_methods`, ...) once its SQL
implementation lands. Every status change is a compare-and-set on (status, version): False
means another caller moved the record first and nothing was written.

Tokens and credentials cross this boundary in plain text; the SQL store encrypts them with
`billing.store.crypto` on the way in and decrypts on the way out, so no caller handles
ciphertext and no table holds a token in the clear.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.domain.payments import (
    AttemptStatus,
    Dispute,
    DisputeStatus,
    GatewayEventRecord,
    Payment,
    PaymentAttempt,
    PaymentMethod,
    Refund,
    RefundStatus,
)


class PaymentMethodRepository(Protocol):
    async def insert(self, tenant_id: str, method: PaymentMethod, *, is_default: bool) -> None:
        """With `is_default`, the customer's other methods stop being the default."""
        ...

    async def get(self, tenant_id: str, method_id: str) -> PaymentMethod | None: ...

    async def default_for(
        self, tenant_id: str, customer_id: str, subscription_id: str | None
    ) -> PaymentMethod | None:
        """The subscription's own default if it has an attached one, else the customer's."""
        ...

    async def is_default(self, tenant_id: str, method: PaymentMethod) -> bool: ...

    async def set_default(
        self, tenant_id: str, method: PaymentMethod, subscription_id: str | None, at: datetime
    ) -> None: ...

    async def detach(self, tenant_id: str, method: PaymentMethod, at: datetime) -> bool:
        """Compare-and-set on version; a detached method is no one's default any more."""
        ...

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str,
        include_detached: bool,
        after_id: str | None,
        limit: int,
    ) -> list[PaymentMethod]:
        """Newest first (id descending), older than `after_id` if given."""
        ...

    async def has_attached(self, tenant_id: str, customer_id: str) -> bool:
        """Whether the customer has any method (the trial-end outcome asks)."""
        ...

    async def attached_among(self, tenant_id: str, customer_ids: Sequence[str]) -> set[str]:
        """The customers among these with any method: a batch of renewals asks once for
        all its customers instead of once per invoice."""
        ...


class PaymentAttemptRepository(Protocol):
    async def insert(self, tenant_id: str, attempt: PaymentAttempt) -> None: ...

    async def get(
        self, tenant_id: str, attempt_id: str, *, lock: bool = False
    ) -> PaymentAttempt | None: ...

    async def by_reference(
        self, tenant_id: str, gateway: str, reference: str
    ) -> PaymentAttempt | None:
        """The attempt a webhook's charge reference names."""
        ...

    async def by_key(self, tenant_id: str, idempotency_key: str) -> PaymentAttempt | None: ...

    async def update(
        self, tenant_id: str, attempt: PaymentAttempt, expected: AttemptStatus, version: int
    ) -> bool:
        """Compare-and-set: write `attempt` (version bumped by the caller) only while the
        stored one is at `expected` and `version`."""
        ...

    async def unsettled_for_invoice(self, tenant_id: str, invoice_id: str) -> list[PaymentAttempt]:
        """Pending, unknown or requires_action attempts of the invoice: while one exists a new
        charge of the invoice could double it, so PayInvoice refuses (FAILED_PRECONDITION)."""
        ...

    async def count_since(
        self,
        tenant_id: str,
        since: datetime,
        *,
        payment_method_id: str | None = None,
        customer_id: str | None = None,
        country: str | None = None,
    ) -> int:
        """Attempts recorded at or after `since` for the velocity checks."""
        ...

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        invoice_id: str | None,
        after_id: str | None,
        limit: int,
    ) -> list[PaymentAttempt]:
        """Newest first (id descending)."""
        ...


class PaymentRepository(Protocol):
    async def insert(self, tenant_id: str, payment: Payment) -> None:
        """With its allocations. A second payment for the same attempt is a conflict."""
        ...

    async def get(
        self, tenant_id: str, payment_id: str, *, lock: bool = False
    ) -> Payment | None: ...

    async def for_attempt(self, tenant_id: str, attempt_id: str) -> Payment | None: ...

    async def update_amounts(
        self, tenant_id: str, payment_id: str, refunded_minor: int, disputed_minor: int
    ) -> None:
        """Refunded and disputed totals; the row is locked by `get(lock=True)` first."""
        ...

    async def list_after(
        self,
        tenant_id: str,
        customer_id: str | None,
        invoice_id: str | None,
        after_id: str | None,
        limit: int,
    ) -> list[Payment]: ...


class RefundRepository(Protocol):
    async def insert(self, tenant_id: str, refund: Refund) -> None: ...

    async def get(self, tenant_id: str, refund_id: str, *, lock: bool = False) -> Refund | None: ...

    async def by_reference(self, tenant_id: str, reference: str) -> Refund | None: ...

    async def by_key(self, tenant_id: str, idempotency_key: str) -> Refund | None:
        """The refund a webhook names by our idempotency key (no reference known yet)."""
        ...

    async def update(
        self, tenant_id: str, refund: Refund, expected: RefundStatus, version: int
    ) -> bool: ...

    async def for_payment(self, tenant_id: str, payment_id: str) -> list[Refund]:
        """Oldest first."""
        ...

    async def for_credit_note(self, tenant_id: str, credit_note_id: str) -> list[Refund]:
        """Refunds tied to the note, oldest first."""
        ...


class DisputeRepository(Protocol):
    async def insert(self, tenant_id: str, dispute: Dispute) -> None: ...

    async def get(self, tenant_id: str, dispute_id: str) -> Dispute | None: ...

    async def by_gateway_id(
        self, tenant_id: str, gateway: str, gateway_dispute_id: str
    ) -> Dispute | None: ...

    async def update(
        self, tenant_id: str, dispute: Dispute, expected: DisputeStatus, version: int
    ) -> bool: ...

    async def list_after(
        self, tenant_id: str, customer_id: str, after_id: str | None, limit: int
    ) -> list[Dispute]: ...


class GatewayEventRepository(Protocol):
    async def add(self, tenant_id: str, record: GatewayEventRecord) -> bool:
        """False when (gateway, event id) was applied before: the caller changes nothing.
        On PostgreSQL a concurrent second delivery waits for the first to commit, then
        finds it."""
        ...

    async def set_outcome(self, tenant_id: str, gateway: str, event_id: str, outcome: str) -> None:
        """What applying the event (added in this transaction) changed."""
        ...

    async def get(
        self, tenant_id: str, gateway: str, event_id: str
    ) -> GatewayEventRecord | None: ...


@dataclass(frozen=True)
class StoredCredentials:
    gateway: str
    values: Mapping[str, str]  # decrypted
    key_id: str
    updated_at: datetime


class GatewayCredentialRepository(Protocol):
    async def put(
        self, tenant_id: str, gateway: str, values: Mapping[str, str], at: datetime
    ) -> StoredCredentials: ...

    async def get(self, tenant_id: str, gateway: str) -> StoredCredentials | None: ...

    async def names(self, tenant_id: str) -> Sequence[str]:
        """Gateways with stored credentials."""
        ...
