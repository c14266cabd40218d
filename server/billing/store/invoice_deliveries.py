"""Invoice delivery records (ADR 0058): one per emailed invoice, `sending` before the SMTP
conversation and `sent` in the delivery item's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from billing.app.due_work_ports import DeliveryRecord, DeliveryState
from billing.store.batch import BatchedConnection
from billing.store.schema import invoice_deliveries

t = invoice_deliveries


class SqlInvoiceDeliveries:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def get(
        self, tenant_id: str, invoice_id: str, *, lock: bool = False
    ) -> DeliveryRecord | None:
        query = select(t).where(t.c.tenant_id == tenant_id, t.c.invoice_id == invoice_id)
        if lock:
            query = query.with_for_update()
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        return DeliveryRecord(
            row["tenant_id"],
            row["invoice_id"],
            row["message_id"],
            row["recipient"],
            DeliveryState(row["state"]),
            row["started_at"],
            row["sends"],
            row["sent_at"],
        )

    async def start(self, record: DeliveryRecord) -> None:
        await self._conn.execute(
            insert(t).values(
                tenant_id=record.tenant_id,
                invoice_id=record.invoice_id,
                message_id=record.message_id,
                recipient=record.recipient,
                state=record.state.value,
                started_at=record.started_at,
                sends=record.sends,
                sent_at=record.sent_at,
            )
        )

    async def count_send(self, tenant_id: str, invoice_id: str) -> None:
        await self._conn.execute(
            update(t)
            .where(t.c.tenant_id == tenant_id, t.c.invoice_id == invoice_id)
            .values(sends=t.c.sends + 1)
        )

    async def finish(
        self, tenant_id: str, invoice_id: str, state: DeliveryState, at: datetime
    ) -> bool:
        result = await self._conn.execute(
            update(t)
            .where(
                t.c.tenant_id == tenant_id,
                t.c.invoice_id == invoice_id,
                t.c.state == DeliveryState.SENDING.value,
            )
            .values(state=state.value, sent_at=at if state is DeliveryState.SENT else None)
            .returning(t.c.invoice_id)
        )
        return result.first() is not None
