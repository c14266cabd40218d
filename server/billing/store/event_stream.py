"""The outbox read as a stream (ADR 0059): positions, the settled mark, the retention floor.

Position = (stream_xid, stream_seq), both filled by the database on insert (migration 0028).

PostgreSQL: rows commit out of stream_seq order (an identity is taken at insert, the commit
comes later), so "after seq N" alone would skip a row whose transaction commits late. Every
row carries its transaction's id instead, and a reader only takes rows whose transaction id
is below the xmin of a snapshot it took: every transaction below xmin has ended (committed or
rolled back), so no row can ever appear there again, and rows of one transaction keep their
insert order by seq. A later snapshot sees at least what an earlier one did, so reading the
xmin first and the rows in a later statement is safe.

SQLite: one writer at a time; the trigger numbers rows from a counter inside the writing
transaction, so numbers become visible in order and "up to the counter's value" is settled.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.app.event_stream import POSITION_MAX, START, Position, StreamedEvent, StreamPage
from billing.app.records import OutboxEvent
from billing.store.schema import event_stream_counter, event_stream_floors, outbox_events

o = outbox_events
f = event_stream_floors
_KEY = tuple_(o.c.stream_xid, o.c.stream_seq)
# xid8 has no cast to bigint; its text form is the number (below 2^63 for any real cluster).
_PG_XMIN = text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint")
_SQLITE_LAST = select(event_stream_counter.c.last).where(event_stream_counter.c.id == 1)


class SqlEventStream:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._is_sqlite = engine.dialect.name == "sqlite"

    async def _settled(self, conn: AsyncConnection) -> Position:
        if self._is_sqlite:
            last = (await conn.execute(_SQLITE_LAST)).scalar()
            return Position(0, int(last or 0))
        xmin = int((await conn.execute(_PG_XMIN)).scalar_one())
        return Position(xmin - 1, POSITION_MAX)

    async def settled(self) -> Position:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await self._settled(conn)

    async def page(self, tenant_id: str, after: Position, limit: int) -> StreamPage:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            settled = await self._settled(conn)
            if settled <= after:
                return StreamPage([], after, await self._floor(conn, tenant_id))
            statement = (
                select(o)
                .where(
                    o.c.tenant_id == tenant_id,
                    tuple_(after.xid, after.seq) < _KEY,
                    tuple_(settled.xid, settled.seq) >= _KEY,
                )
                .order_by(o.c.stream_xid, o.c.stream_seq)
                .limit(limit)
            )
            rows = (await conn.execute(statement)).mappings().all()
            floor = await self._floor(conn, tenant_id)  # after the rows: see StreamPage
        events = [_streamed(row) for row in rows]
        reached = events[-1].position if len(events) >= limit else settled
        return StreamPage(events, reached, floor)

    async def floor(self, tenant_id: str) -> Position:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            return await self._floor(conn, tenant_id)

    @staticmethod
    async def _floor(conn: AsyncConnection, tenant_id: str) -> Position:
        row = (
            await conn.execute(
                select(f.c.floor_xid, f.c.floor_seq).where(f.c.tenant_id == tenant_id)
            )
        ).first()
        return START if row is None else Position(int(row[0]), int(row[1]))

    async def prunable_tenants(self, before: datetime, limit: int) -> list[str]:
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            rows = await conn.execute(
                select(o.c.tenant_id)
                .where(o.c.published_at.is_not(None), o.c.occurred_at < before)
                .distinct()
                .limit(limit)
            )
            return [row[0] for row in rows]

    async def prune(self, tenant_id: str, before: datetime, limit: int) -> int:
        async with self._engine.begin() as conn:
            settled = await self._settled(conn)
            # The prefix of the stream that is settled, published (the relay is done with
            # it) and older than `before`; it stops at the first row that is not.
            blocking = (
                select(o.c.stream_xid, o.c.stream_seq)
                .where(
                    o.c.tenant_id == tenant_id,
                    (o.c.published_at.is_(None)) | (o.c.occurred_at >= before),
                )
                .order_by(o.c.stream_xid, o.c.stream_seq)
                .limit(1)
            )
            stop = (await conn.execute(blocking)).first()
            bound = settled if stop is None else min(settled, _just_below(stop))
            prefix = (
                select(o.c.stream_xid, o.c.stream_seq)
                .where(o.c.tenant_id == tenant_id, tuple_(bound.xid, bound.seq) >= _KEY)
                .order_by(o.c.stream_xid, o.c.stream_seq)
                .limit(limit)
                .subquery()
            )
            last = (
                await conn.execute(
                    select(prefix.c.stream_xid, prefix.c.stream_seq)
                    .order_by(prefix.c.stream_xid.desc(), prefix.c.stream_seq.desc())
                    .limit(1)
                )
            ).first()
            if last is None:
                return 0
            deleted = await conn.execute(
                delete(o).where(o.c.tenant_id == tenant_id, tuple_(last[0], last[1]) >= _KEY)
            )
            # The floor moves with the delete, in one transaction: a reader that finds the
            # floor unchanged after reading a page knows that page lost nothing.
            values = {"tenant_id": tenant_id, "floor_xid": last[0], "floor_seq": last[1]}
            insert = sqlite_insert(f) if self._is_sqlite else pg_insert(f)
            await conn.execute(
                insert.values(values).on_conflict_do_update(
                    index_elements=[f.c.tenant_id],
                    set_={"floor_xid": last[0], "floor_seq": last[1]},
                    where=tuple_(f.c.floor_xid, f.c.floor_seq) < tuple_(last[0], last[1]),
                )
            )
            return int(deleted.rowcount)


def _just_below(key: Any) -> Position:
    xid, seq = int(key[0]), int(key[1])
    return Position(xid, seq - 1) if seq > 0 else Position(xid - 1, POSITION_MAX)


def _streamed(row: Any) -> StreamedEvent:
    return StreamedEvent(
        Position(int(row["stream_xid"]), int(row["stream_seq"])),
        OutboxEvent(
            id=row["id"],
            tenant_id=row["tenant_id"],
            type=row["event_type"],
            resource_name=row["resource_name"],
            payload=row["payload"],
            occurred_at=row["occurred_at"],
        ),
    )
