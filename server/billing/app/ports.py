"""The storage the use cases need. `billing.store` implements it; tests may too.

Locking contract: `Store.write(key)` gives one transaction in which the idempotency key is
held exclusively: a second write with the same key while the first runs raises
RequestInProgress instead of waiting. Implementations raise RetryableConflict for
serialization failures and deadlocks; the caller retries the whole transaction.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from billing.app.records import AuditRecord, OutboxEvent
from billing.domain.customers import Customer


class RetryableConflict(Exception):
    """The database refused the transaction in a way that a retry may fix."""


@dataclass(frozen=True)
class IdempotencyKey:
    tenant_id: str
    method: str
    request_id: str


@dataclass(frozen=True)
class StoredResult:
    body_hash: bytes
    result: bytes


class CustomerRepository(Protocol):
    async def insert(self, tenant_id: str, customer: Customer) -> None: ...

    async def get(self, tenant_id: str, customer_id: str) -> Customer | None: ...

    async def list_after(self, tenant_id: str, after_id: str | None, limit: int) -> list[Customer]:
        """Customers in id order (= creation order), strictly after `after_id`."""
        ...

    async def update(self, tenant_id: str, customer: Customer, expected_version: int) -> bool:
        """Write `customer` if the stored version is still `expected_version`."""
        ...


class IdempotencyRepository(Protocol):
    async def find(self, key: IdempotencyKey, now: datetime) -> StoredResult | None:
        """The stored result of a completed request, unless it has expired."""
        ...

    async def save(
        self,
        key: IdempotencyKey,
        stored: StoredResult,
        created_at: datetime,
        expires_at: datetime,
    ) -> None: ...

    async def purge_expired(self, now: datetime, limit: int) -> int: ...


@dataclass(frozen=True)
class StoredRuleSet:
    content_hash: str
    files: dict[str, bytes]
    created_at: datetime


@dataclass(frozen=True)
class ActiveRuleSet:
    content_hash: str
    activated_at: datetime


class RuleSetRepository(Protocol):
    async def active(self, tenant_id: str) -> ActiveRuleSet | None: ...

    async def get(self, tenant_id: str, content_hash: str) -> StoredRuleSet | None: ...

    async def add(self, tenant_id: str, stored: StoredRuleSet, actor: str) -> None:
        """Store it; a hash already stored is kept as it is."""
        ...

    async def activate(
        self, tenant_id: str, content_hash: str, at: datetime, actor: str
    ) -> str | None:
        """Make it active (serialized against concurrent activations); the previous hash."""
        ...


class Outbox(Protocol):
    async def add(self, event: OutboxEvent) -> None: ...


class AuditLog(Protocol):
    async def add(self, record: AuditRecord) -> None: ...


class Transaction(Protocol):
    @property
    def customers(self) -> CustomerRepository: ...

    @property
    def idempotency(self) -> IdempotencyRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def rule_sets(self) -> RuleSetRepository: ...


class Store(Protocol):
    def read(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only transaction."""
        ...

    def write(self, key: IdempotencyKey | None) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction holding `key` exclusively; commits when the block exits cleanly."""
        ...
