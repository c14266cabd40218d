"""Idempotency keys, outbox events and audit records."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, tuple_
from sqlalchemy.sql import Executable

from billing.app.ports import IdempotencyKey, StoredResult
from billing.app.records import AuditQuery, AuditRecord, OutboxEvent
from billing.store.batch import BatchedConnection
from billing.store.schema import audit_log, idempotency_keys, outbox_events

k = idempotency_keys


# The key's row whatever its expiry and whichever RPC stored it (the key is (tenant,
# request_id): ADR 0024), read in the write's opening round trip (sql_store); find() then
# applies the expiry itself.
_LOOKUP = select(k.c.body_hash, k.c.result, k.c.expires_at, k.c.method).where(
    k.c.tenant_id == bindparam("tenant_id"),
    k.c.request_id == bindparam("request_id"),
)


# A plain insert: a live key with the same id (only possible if the key lock was not held:
# an advisory-lock id collision) fails it with a unique violation, which the store retries
# (the retry finds the stored result). An expired leftover seen by find() is deleted first.
_INSERT_KEY = insert(k)
_DELETE_KEY = delete(k).where(
    k.c.tenant_id == bindparam("tenant_id"),
    k.c.request_id == bindparam("request_id"),
)
_INSERT_EVENT = insert(outbox_events)
_INSERT_AUDIT = insert(audit_log)


class SqlIdempotency:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        self._prefetched: tuple[IdempotencyKey, list[tuple[Any, ...]]] | None = None
        self._expired: set[IdempotencyKey] = set()  # keys find() saw only expired rows of

    @staticmethod
    def lookup(key: IdempotencyKey) -> tuple[Executable, dict[str, Any]]:
        """The statement reading the key's row, for the opening round trip."""
        return _LOOKUP, {"tenant_id": key.tenant_id, "request_id": key.request_id}

    def prefetched(self, key: IdempotencyKey, rows: list[tuple[Any, ...]]) -> None:
        self._prefetched = (key, rows)

    async def find(self, key: IdempotencyKey, now: datetime) -> StoredResult | None:
        if self._prefetched is not None and self._prefetched[0] == key:
            rows = self._prefetched[1]
            self._prefetched = None
        else:
            statement, params = self.lookup(key)
            rows = [tuple(row) for row in await self._conn.execute(statement, params)]
        for body_hash, result, expires_at, method in rows:
            if expires_at > now:
                return StoredResult(bytes(body_hash), bytes(result), method)
            self._expired.add(key)  # not yet purged: save() replaces it
        return None

    async def save(
        self,
        key: IdempotencyKey,
        stored: StoredResult,
        created_at: datetime,
        expires_at: datetime,
    ) -> None:
        names = {"tenant_id": key.tenant_id, "request_id": key.request_id}
        if key in self._expired:
            self._conn.defer(_DELETE_KEY, names)
        self._conn.defer(
            _INSERT_KEY,
            {
                **names,
                "method": key.method,
                "body_hash": stored.body_hash,
                "result": stored.result,
                "created_at": created_at,
                "expires_at": expires_at,
            },
        )

    async def purge_expired(self, now: datetime, limit: int) -> int:
        """Delete at most `limit` expired keys (bounded, so a backlog never makes one huge
        transaction)."""
        doomed = select(k.c.tenant_id, k.c.request_id).where(k.c.expires_at <= now).limit(limit)
        result = await self._conn.execute(
            delete(k).where(tuple_(k.c.tenant_id, k.c.request_id).in_(doomed))
        )
        return result.rowcount


def event_row(event: OutboxEvent) -> dict[str, Any]:
    """An outbox event as its `outbox_events` row."""
    return {
        "tenant_id": event.tenant_id,
        "id": event.id,
        "event_type": event.type,
        "resource_name": event.resource_name,
        "payload": event.payload,
        "occurred_at": event.occurred_at,
        "shard": relay_shard(event.tenant_id, event.resource_name),
    }


RELAY_SHARDS = 16  # fixed (migration 0026 seeds the shard rows): a change would reorder


def relay_shard(tenant_id: str, resource_name: str) -> int:
    """The relay shard of an aggregate's events: one claimer at a time per shard (ADR 0057)."""
    return zlib.crc32(f"{tenant_id}/{resource_name}".encode()) % RELAY_SHARDS


class SqlOutbox:
    """Events are blind writes: deferred, and sent with the transaction's other writes."""

    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        self.added: list[OutboxEvent] = []  # told to the store's observer after the commit

    async def add(self, event: OutboxEvent) -> None:
        self._conn.defer(_INSERT_EVENT, event_row(event))
        self.added.append(event)


a = audit_log


class SqlAudit:
    """Deferred like the outbox, in the same transaction. The table refuses UPDATE and
    DELETE (triggers, migration 0013), so a record once committed stays as written."""

    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def list_before(
        self, tenant_id: str, query: AuditQuery, before_id: str | None, limit: int
    ) -> list[AuditRecord]:
        # Newest first along the primary key (tenant_id, id); a resource filter uses
        # ix_audit_log_tenant_id_resource_name_id the same way.
        statement = select(a).where(a.c.tenant_id == tenant_id)
        if before_id is not None:
            statement = statement.where(a.c.id < before_id)
        if query.resource_name:
            statement = statement.where(a.c.resource_name == query.resource_name)
        if query.actor:
            statement = statement.where(a.c.actor == query.actor)
        if query.method:
            statement = statement.where(a.c.method == query.method)
        if query.start is not None:
            statement = statement.where(a.c.occurred_at >= query.start)
        if query.end is not None:
            statement = statement.where(a.c.occurred_at < query.end)
        result = await self._conn.execute(statement.order_by(a.c.id.desc()).limit(limit))
        return [_audit_from_row(row) for row in result.mappings()]

    async def add(self, record: AuditRecord) -> None:
        self._conn.defer(
            _INSERT_AUDIT,
            {
                "tenant_id": record.tenant_id,
                "id": record.id,
                "actor": record.actor,
                "method": record.method,
                "request_id": record.request_id,
                "request_digest": record.request_digest,
                "resource_name": record.resource_name,
                "action": record.action,
                "changes": record.changes,
                "occurred_at": record.occurred_at,
            },
        )


def _audit_from_row(row: Any) -> AuditRecord:
    digest = row["request_digest"]
    return AuditRecord(
        id=row["id"],
        tenant_id=row["tenant_id"],
        actor=row["actor"],
        method=row["method"],
        request_id=row["request_id"],
        request_digest=bytes(digest) if digest is not None else b"",
        resource_name=row["resource_name"],
        action=row["action"],
        changes=row["changes"],
        occurred_at=row["occurred_at"],
    )
