"""Cancellations with their reasons (issue 18): written with the cancel, read by reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, insert, select, update

from billing.app.cancellation_ports import CancellationQuery, CancellationRecord
from billing.store.batch import BatchedConnection
from billing.store.schema import cancellations

c = cancellations
INSERT = insert(c)


def _window(tenant_id: str, query: CancellationQuery) -> list[ColumnElement[bool]]:
    where = [c.c.tenant_id == tenant_id]
    if query.start is not None:
        where.append(c.c.requested_at >= query.start)
    if query.end is not None:
        where.append(c.c.requested_at < query.end)
    if query.reason_code:
        where.append(c.c.reason_code == query.reason_code)
    return where


def _record(row: Any) -> CancellationRecord:
    return CancellationRecord(
        row.id,
        row.tenant_id,
        row.subscription_id,
        row.customer_id,
        row.reason_code,
        row.feedback,
        row.mode,
        row.requested_at,
        row.effective_at,
        row.currency,
        int(row.mrr_minor),
        row.withdrawn_at,
    )


class SqlCancellations:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def add(self, record: CancellationRecord) -> None:
        self._conn.defer(  # sent with the transaction's other writes
            INSERT,
            {
                "tenant_id": record.tenant_id,
                "id": record.id,
                "subscription_id": record.subscription_id,
                "customer_id": record.customer_id,
                "reason_code": record.reason_code,
                "feedback": record.feedback,
                "mode": record.mode,
                "requested_at": record.requested_at,
                "effective_at": record.effective_at,
                "currency": record.currency,
                "mrr_minor": record.mrr_minor,
                "withdrawn_at": record.withdrawn_at,
            },
        )

    async def withdraw(self, tenant_id: str, subscription_id: str, at: datetime) -> None:
        await self._conn.execute(
            update(c)
            .where(
                c.c.tenant_id == tenant_id,
                c.c.subscription_id == subscription_id,
                c.c.withdrawn_at.is_(None),
            )
            .values(withdrawn_at=at)
        )

    async def page(
        self, tenant_id: str, query: CancellationQuery, after_id: str | None, limit: int
    ) -> list[CancellationRecord]:
        where = _window(tenant_id, query)
        if after_id is not None:
            where.append(c.c.id < after_id)
        rows = await self._conn.execute(
            select(c).where(*where).order_by(c.c.id.desc()).limit(limit)
        )
        return [_record(row) for row in rows]

    async def counts(self, tenant_id: str, query: CancellationQuery) -> dict[str, int]:
        rows = await self._conn.execute(
            select(c.c.reason_code, func.count().label("n"))
            .where(*_window(tenant_id, query), c.c.withdrawn_at.is_(None))
            .group_by(c.c.reason_code)
        )
        return {row.reason_code: int(row.n) for row in rows}
