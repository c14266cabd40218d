"""Revenue schedules (ADR 0054): inserted with the invoice that creates them and updated by
recognition, both deferred with the transaction's other writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any

from sqlalchemy import bindparam, insert, select, update

from billing.domain.recognition import RevenueSchedule, Schedule, ScheduleStatus
from billing.store.batch import BatchedConnection
from billing.store.schema import revenue_schedules

rs = revenue_schedules
INSERT_SCHEDULE = insert(rs)
UPDATE_RECOGNIZED = (
    update(rs)
    .where(rs.c.tenant_id == bindparam("b_tenant"), rs.c.id == bindparam("b_id"))
    .values(recognized_minor=bindparam("b_recognized"), status=bindparam("b_status"))
)


def _row(tenant_id: str, s: RevenueSchedule) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": s.id,
        "invoice_id": s.invoice_id,
        "line_no": s.schedule.line_no,
        "customer_id": s.customer_id,
        "product_line": s.schedule.product_line[:64],
        "method": s.schedule.method,
        "currency": s.currency,
        "amount_minor": s.schedule.amount_minor,
        "recognized_minor": s.recognized_minor,
        "start_at": s.schedule.start,
        "end_at": s.schedule.end,
        "status": s.status.value,
        "allocation": json.dumps(dict(s.schedule.allocation), sort_keys=True),
        "created_at": s.created_at,
    }


def _schedule(r: Any) -> RevenueSchedule:
    return RevenueSchedule(
        id=r.id,
        invoice_id=r.invoice_id,
        customer_id=r.customer_id,
        currency=r.currency,
        schedule=Schedule(
            r.line_no,
            r.product_line,
            r.method,
            int(r.amount_minor),
            r.start_at,
            r.end_at,
            MappingProxyType(json.loads(r.allocation)),
        ),
        recognized_minor=int(r.recognized_minor),
        status=ScheduleStatus(r.status),
        created_at=r.created_at,
    )


class SqlRevenueSchedules:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def add(self, tenant_id: str, schedules: Sequence[RevenueSchedule]) -> None:
        if schedules:
            self._conn.defer(INSERT_SCHEDULE, [_row(tenant_id, s) for s in schedules])

    async def of_invoice(self, tenant_id: str, invoice_id: str) -> list[RevenueSchedule]:
        query = (
            select(rs)
            .where(rs.c.tenant_id == tenant_id, rs.c.invoice_id == invoice_id)
            .order_by(rs.c.line_no, rs.c.id)
        )
        return [_schedule(r) for r in await self._conn.execute(query)]

    async def active(
        self, tenant_id: str, currency: str | None, after_id: str | None, limit: int
    ) -> list[RevenueSchedule]:
        """Schedules with something left to recognize, by id."""
        query = select(rs).where(
            rs.c.tenant_id == tenant_id, rs.c.status == ScheduleStatus.ACTIVE.value
        )
        if currency is not None:
            query = query.where(rs.c.currency == currency)
        if after_id is not None:
            query = query.where(rs.c.id > after_id)
        return [
            _schedule(r) for r in await self._conn.execute(query.order_by(rs.c.id).limit(limit))
        ]

    async def set_recognized(
        self, tenant_id: str, changes: Sequence[tuple[str, int, ScheduleStatus]]
    ) -> None:
        """(schedule id, recognized so far, status) each; deferred."""
        if changes:
            self._conn.defer(
                UPDATE_RECOGNIZED,
                [
                    {"b_tenant": tenant_id, "b_id": i, "b_recognized": n, "b_status": st.value}
                    for i, n, st in changes
                ],
            )
