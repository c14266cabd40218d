"""Stored rule sets and the active one per tenant."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.sql import Executable

from billing.app.hot_cache import Changes
from billing.app.ports import ActiveRuleSet, StoredRuleSet
from billing.store.batch import BatchedConnection
from billing.store.dialect import insert_or_ignore, upsert
from billing.store.schema import active_rule_sets as a
from billing.store.schema import rule_sets as r

# Read by every billing call: built once.
_ACTIVE = select(a.c.content_hash, a.c.activated_at).where(a.c.tenant_id == bindparam("tenant_id"))
_GET = select(r).where(r.c.tenant_id == bindparam("tenant_id"), r.c.content_hash == bindparam("h"))


class SqlRuleSets:
    def __init__(self, conn: BatchedConnection, changes: Changes | None = None) -> None:
        self._conn = conn
        self._changes = Changes() if changes is None else changes  # for the hot cache
        self._prefetched: tuple[str, ActiveRuleSet | None] | None = None

    @staticmethod
    def lookup_active(tenant_id: str) -> tuple[Executable, dict[str, Any]]:
        """The statement reading the active rule set, for a write's opening round trip."""
        return _ACTIVE, {"tenant_id": tenant_id}

    def prefetched(self, tenant_id: str, rows: list[tuple[Any, ...]]) -> None:
        active = ActiveRuleSet(rows[0][0], rows[0][1].astimezone(UTC)) if rows else None
        self._prefetched = (tenant_id, active)

    async def active(self, tenant_id: str) -> ActiveRuleSet | None:
        if self._prefetched is not None and self._prefetched[0] == tenant_id:
            return self._prefetched[1]  # read in this transaction, after its key lock
        row = (await self._conn.execute(_ACTIVE, {"tenant_id": tenant_id})).first()
        return ActiveRuleSet(row.content_hash, row.activated_at) if row else None

    async def get(self, tenant_id: str, content_hash: str) -> StoredRuleSet | None:
        row = (await self._conn.execute(_GET, {"tenant_id": tenant_id, "h": content_hash})).first()
        if row is None:
            return None
        files = {name: text.encode("utf-8") for name, text in row.files.items()}
        return StoredRuleSet(row.content_hash, files, row.created_at)

    async def add(self, tenant_id: str, stored: StoredRuleSet, actor: str) -> None:
        """Store the rule set; a hash already stored is left as it is (same bytes)."""
        dialect = self._conn.dialect.name
        await self._conn.execute(
            insert_or_ignore(dialect, r, ["tenant_id", "content_hash"]),
            {
                "tenant_id": tenant_id,
                "content_hash": stored.content_hash,
                "files": {name: data.decode("utf-8") for name, data in stored.files.items()},
                "created_at": stored.created_at,
                "created_by": actor,
            },
        )

    async def activate(
        self, tenant_id: str, content_hash: str, at: datetime, actor: str
    ) -> str | None:
        """Make `content_hash` the active rule set; returns the previously active hash.
        The active row is locked first, so concurrent pushes serialize."""
        self._prefetched = None  # this transaction changes it
        self._changes.tenant(tenant_id)  # every cached read of the tenant priced by the rules
        locked = select(a.c.content_hash).where(a.c.tenant_id == tenant_id).with_for_update()
        previous = (await self._conn.execute(locked)).scalar()
        await self._conn.execute(
            upsert(
                self._conn.dialect.name,
                a,
                ["tenant_id"],
                ["content_hash", "activated_at", "activated_by"],
            ),
            {
                "tenant_id": tenant_id,
                "content_hash": content_hash,
                "activated_at": at,
                "activated_by": actor,
            },
        )
        return previous
