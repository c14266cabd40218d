"""Idempotency keys, outbox events and audit records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.app.ports import IdempotencyKey, StoredResult
from billing.app.records import AuditRecord, OutboxEvent
from billing.store.schema import audit_log, idempotency_keys, outbox_events

k = idempotency_keys


class SqlIdempotency:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    def _where(self, key: IdempotencyKey) -> tuple[ColumnElement[bool], ...]:
        return (
            k.c.tenant_id == key.tenant_id,
            k.c.method == key.method,
            k.c.request_id == key.request_id,
        )

    async def find(self, key: IdempotencyKey, now: datetime) -> StoredResult | None:
        result = await self._conn.execute(
            select(k.c.body_hash, k.c.result).where(*self._where(key), k.c.expires_at > now)
        )
        row = result.first()
        return StoredResult(bytes(row.body_hash), bytes(row.result)) if row else None

    async def save(
        self,
        key: IdempotencyKey,
        stored: StoredResult,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        # An expired key not yet purged is replaced: it no longer counts.
        await self._conn.execute(delete(k).where(*self._where(key)))
        await self._conn.execute(
            insert(k).values(
                tenant_id=key.tenant_id,
                method=key.method,
                request_id=key.request_id,
                body_hash=stored.body_hash,
                result=stored.result,
                created_at=created_at,
                expires_at=expires_at,
            )
        )

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete at most `limit` expired keys (bounded, so a backlog never makes one huge
        transaction)."""
        doomed = (
            select(k.c.tenant_id, k.c.method, k.c.request_id)
            .where(k.c.expires_at <= now)
            .limit(limit)
        )
        result = await self._conn.execute(
            delete(k).where(tuple_(k.c.tenant_id, k.c.method, k.c.request_id).in_(doomed))
        )
        return result.rowcount


class SqlOutbox:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, event: OutboxEvent) -> None:
        await self._conn.execute(
            insert(outbox_events).values(
                tenant_id=event.tenant_id,
                id=event.id,
                event_type=event.type,
                resource_name=event.resource_name,
                payload=event.payload,
                occurred_at=event.occurred_at,
            )
        )


class SqlAudit:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, record: AuditRecord) -> None:
        await self._conn.execute(
            insert(audit_log).values(
                tenant_id=record.tenant_id,
                id=record.id,
                actor=record.actor,
                method=record.method,
                request_id=record.request_id,
                resource_name=record.resource_name,
                action=record.action,
                changes=record.changes,
                occurred_at=record.occurred_at,
            )
        )
