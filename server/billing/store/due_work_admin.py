"""The operator's view of due work (ADR 0058): rows as they stand, an item taken out of turn
by a person, and parking by hand. Claims by workers stay in store/due_work.py."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from billing.app.due_work_ports import DueFilter, DueRow
from billing.app.ports import DueItem
from billing.store.batch import BatchedConnection
from billing.store.schema import clocks, due_work

d = due_work
_earlier = aliased(due_work)
_COLUMNS = (
    d.c.tenant_id,
    d.c.id,
    d.c.kind,
    d.c.subscription_id,
    d.c.clock_id,
    d.c.due_at,
    d.c.payload,
    d.c.attempts,
    d.c.last_error,
    d.c.lease_owner,
    d.c.lease_until,
    d.c.parked_at,
    d.c.done_at,
    clocks.c.now,
)
_JOINED = d.outerjoin(
    clocks, and_(clocks.c.tenant_id == d.c.tenant_id, clocks.c.id == d.c.clock_id)
)


def _row(row: Any) -> DueRow:
    return DueRow(
        row.tenant_id,
        row.id,
        row.kind,
        row.subscription_id,
        row.clock_id,
        row.due_at,
        row.payload,
        row.attempts,
        row.last_error or "",
        row.lease_owner,
        row.lease_until,
        row.parked_at,
        row.done_at,
        row.now,  # the clock's
    )


def _not_held(wall_now: datetime) -> ColumnElement[bool]:
    """No live worker holds it (never leased, released, or its lease lapsed)."""
    return or_(d.c.lease_owner.is_(None), d.c.lease_until.is_(None), d.c.lease_until < wall_now)


class SqlDueWorkAdmin:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def get(self, tenant_id: str, item_id: str) -> DueRow | None:
        row = (
            await self._conn.execute(
                select(*_COLUMNS)
                .select_from(_JOINED)
                .where(d.c.tenant_id == tenant_id, d.c.id == item_id)
            )
        ).first()
        return None if row is None else _row(row)

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
        conditions: list[ColumnElement[bool]] = [d.c.done_at.is_(None)]
        if tenant_id is not None:  # None: every tenant's (the operator's CLI on the database)
            conditions.append(d.c.tenant_id == tenant_id)
        if kind:
            conditions.append(d.c.kind == kind)
        if after_id is not None:
            conditions.append(d.c.id > after_id)
        if which is DueFilter.PARKED:
            conditions.append(d.c.parked_at.is_not(None))
        elif which is DueFilter.FAILING:
            conditions += [d.c.parked_at.is_(None), d.c.last_error.is_not(None), d.c.attempts > 0]
        elif which is DueFilter.STUCK:
            # A simulation clock's time is not waited through, it is advanced: an item due on
            # it and still open after the advance is stuck; on real time, 10 minutes late.
            conditions += [
                d.c.parked_at.is_(None),
                or_(
                    and_(d.c.clock_id.is_(None), d.c.due_at <= stuck_before),
                    and_(clocks.c.now.is_not(None), d.c.due_at <= clocks.c.now),
                ),
            ]
        rows = await self._conn.execute(
            select(*_COLUMNS).select_from(_JOINED).where(*conditions).order_by(d.c.id).limit(limit)
        )
        return [_row(row) for row in rows]

    async def earlier_unfinished(self, row: DueRow) -> str | None:
        found = await self._conn.scalar(
            select(_earlier.c.id)
            .where(
                _earlier.c.tenant_id == row.tenant_id,
                _earlier.c.subscription_id == row.subject_id,
                _earlier.c.done_at.is_(None),
                _earlier.c.due_at < row.due_at,
            )
            .order_by(_earlier.c.due_at)
            .limit(1)
        )
        return None if found is None else str(found)

    async def take(
        self, tenant_id: str, item_id: str, owner: str, lease_until: datetime, wall_now: datetime
    ) -> DueItem | None:
        result = await self._conn.execute(
            update(d)
            .where(
                d.c.tenant_id == tenant_id,
                d.c.id == item_id,
                d.c.done_at.is_(None),
                _not_held(wall_now),
            )
            .values(lease_owner=owner, lease_until=lease_until, attempts=d.c.attempts + 1)
            .returning(
                d.c.tenant_id,
                d.c.id,
                d.c.kind,
                d.c.subscription_id,
                d.c.clock_id,
                d.c.due_at,
                d.c.payload,
                d.c.attempts,
            )
        )
        row = result.first()
        return None if row is None else DueItem(*tuple(row))

    async def park(self, tenant_id: str, item_id: str, at: datetime, wall_now: datetime) -> bool:
        result = await self._conn.execute(
            update(d)
            .where(
                d.c.tenant_id == tenant_id,
                d.c.id == item_id,
                d.c.done_at.is_(None),
                d.c.parked_at.is_(None),
                _not_held(wall_now),
            )
            .values(parked_at=at, lease_owner=None, lease_until=None)
            .returning(d.c.id)
        )
        return result.first() is not None
