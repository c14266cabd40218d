"""The outbox relay's claims (ADR 0057): one shard's oldest unpublished events at a time.

PostgreSQL: a relay claims a shard row FOR UPDATE SKIP LOCKED and keeps that transaction open
while it publishes one bounded batch, then marks what the broker confirmed and commits, so an
aggregate (every event of one resource lands in one shard) has one publisher at a time, in
`seq` order, with no leader. A relay that dies rolls back; its batch is published again.
SQLite: one process, one relay; it reads in rowid order (one writer: commit order) and marks
in a short write afterwards, holding no write lock while the broker answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.store.schema import outbox_events, outbox_relay_shards

e = outbox_events
s = outbox_relay_shards

_PENDING = select(e.c.tenant_id).where(e.c.shard == s.c.shard, e.c.published_at.is_(None))
_CLAIM_PG = (
    select(s.c.shard)
    .where(_PENDING.exists())
    .order_by(s.c.relayed_at.asc().nulls_first(), s.c.shard)
    .limit(1)
    .with_for_update(skip_locked=True, of=s)
)
_CLAIM_SQLITE = (
    select(s.c.shard)
    .where(_PENDING.exists())
    .order_by(s.c.relayed_at.asc().nulls_first(), s.c.shard)
    .limit(1)
)
_COLUMNS = (e.c.tenant_id, e.c.id, e.c.event_type, e.c.resource_name, e.c.payload, e.c.occurred_at)


def _batch(order: Any) -> Any:
    return (
        select(*_COLUMNS)
        .where(e.c.shard == bindparam("shard"), e.c.published_at.is_(None))
        .order_by(order)
        .limit(bindparam("limit"))
    )


_BATCH_PG = _batch(e.c.seq)
_BATCH_SQLITE = _batch(literal_column("outbox_events.rowid"))
_MARK = (
    update(e)
    .where(e.c.tenant_id == bindparam("t"), e.c.id == bindparam("i"))
    .values(published_at=bindparam("at"), dead_letter=bindparam("dead"))
)
_ROTATE = update(s).where(s.c.shard == bindparam("s")).values(relayed_at=bindparam("at"))


@dataclass(frozen=True)
class PendingEvent:
    tenant_id: str
    id: str
    type: str
    resource_name: str
    payload: dict[str, Any]
    occurred_at: datetime


class Claim:
    """One shard's batch, oldest first; `mark` records what left the outbox."""

    def __init__(self, shard: int, events: list[PendingEvent], conn: AsyncConnection | None,
                 engine: AsyncEngine) -> None:  # fmt: skip
        self.shard = shard
        self.events = events
        self._conn = conn  # PostgreSQL: the claiming transaction
        self._engine = engine

    async def mark(
        self, done: Sequence[PendingEvent], dead: Mapping[str, str], at: datetime
    ) -> None:
        """`done`: published (confirmed) events; `dead`: id -> why the broker refused it (then
        dead-lettered)."""
        rows = [{"t": ev.tenant_id, "i": ev.id, "at": at, "dead": dead.get(ev.id)} for ev in done]
        if self._conn is not None:
            await self._write(self._conn, rows, at)
            return
        async with self._engine.begin() as conn:
            await self._write(conn, rows, at)

    async def _write(self, conn: AsyncConnection, rows: list[dict[str, Any]], at: datetime) -> None:
        if rows:
            await conn.execute(_MARK, rows)
        await conn.execute(_ROTATE, {"s": self.shard, "at": at})


class SqlRelayStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def claim(self, limit: int) -> AsyncIterator[Claim | None]:
        """A shard with unpublished events and its oldest `limit` of them, or None. On
        PostgreSQL the shard stays claimed until the block ends (commit; rollback on error)."""
        if self._sqlite:
            async with self._engine.connect() as conn:
                shard = await conn.scalar(_CLAIM_SQLITE)
                events = [] if shard is None else await _read(conn, _BATCH_SQLITE, shard, limit)
                await conn.rollback()
            yield None if shard is None else Claim(shard, events, None, self._engine)
            return
        async with self._engine.begin() as conn:
            shard = await conn.scalar(_CLAIM_PG)
            if shard is None:
                yield None
                return
            events = await _read(conn, _BATCH_PG, shard, limit)
            yield Claim(shard, events, conn, self._engine)

    async def backlog(self) -> int:
        """Events not yet relayed (a gauge; also what tests wait on)."""
        async with self._engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(e).where(e.c.published_at.is_(None))
            )
        return int(count or 0)


async def _read(
    conn: AsyncConnection, statement: Any, shard: int, limit: int
) -> list[PendingEvent]:
    result = await conn.execute(statement, {"shard": shard, "limit": limit})
    return [PendingEvent(*row) for row in result]
