"""Rows of refunds, disputes and the gateway webhook events applied (ADR 0034, 0041).

Status changes are compare-and-set on (status, version): of two writers exactly one moves a
row, the other finds it moved (rowcount 0) and writes nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import RowMapping

from billing.domain.payments import (
    Dispute,
    DisputeStatus,
    GatewayEventRecord,
    Refund,
    RefundStatus,
)
from billing.store.batch import BatchedConnection
from billing.store.dialect import insert_or_ignore
from billing.store.schema import disputes, gateway_events, refunds

r, d, g = refunds, disputes, gateway_events

_INSERT_REFUND = insert(r)
_GET_REFUND = select(r).where(r.c.tenant_id == bindparam("t"), r.c.id == bindparam("id"))
_GET_REFUND_LOCKED = _GET_REFUND.with_for_update()
_UPDATE_REFUND = update(r).where(
    r.c.tenant_id == bindparam("b_tenant"),
    r.c.id == bindparam("b_id"),
    r.c.status == bindparam("b_status"),
    r.c.version == bindparam("b_version"),
)
_INSERT_DISPUTE = insert(d)
_UPDATE_DISPUTE = update(d).where(
    d.c.tenant_id == bindparam("b_tenant"),
    d.c.id == bindparam("b_id"),
    d.c.status == bindparam("b_status"),
    d.c.version == bindparam("b_version"),
)
_ADD_EVENT = {
    name: insert_or_ignore(name, g, ["tenant_id", "gateway", "event_id"]).returning(g.c.event_id)
    for name in ("postgresql", "sqlite")
}
_SET_EVENT_OUTCOME = (
    update(g)
    .where(
        g.c.tenant_id == bindparam("b_tenant"),
        g.c.gateway == bindparam("b_gateway"),
        g.c.event_id == bindparam("b_event"),
    )
    .values(outcome=bindparam("b_outcome"))
)
OUTCOME_MAX = 512  # gateway_events.outcome


def _refund_row(refund: Refund) -> dict[str, Any]:
    return {
        "payment_id": refund.payment_id,
        "attempt_id": refund.attempt_id,
        "customer_id": refund.customer_id,
        "amount_minor": refund.amount_minor,
        "currency": refund.currency,
        "status": refund.status.value,
        "idempotency_key": refund.idempotency_key,
        "reason": refund.reason,
        "credit_note_id": refund.credit_note_id,
        "gateway_reference": refund.gateway_reference,
        "failure_message": refund.failure_message,
        "created_at": refund.created_at,
        "updated_at": refund.updated_at,
        "version": refund.version,
    }


def _refund(row: RowMapping) -> Refund:
    return Refund(
        id=row["id"],
        payment_id=row["payment_id"],
        attempt_id=row["attempt_id"],
        customer_id=row["customer_id"],
        amount_minor=row["amount_minor"],
        currency=row["currency"],
        status=RefundStatus(row["status"]),
        idempotency_key=row["idempotency_key"],
        reason=row["reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        credit_note_id=row["credit_note_id"],
        gateway_reference=row["gateway_reference"],
        failure_message=row["failure_message"],
        version=row["version"],
    )


class SqlRefunds:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, refund: Refund) -> None:
        # Deferred: sent with the commit; a clash (the idempotency key) fails the commit.
        self._conn.defer(
            _INSERT_REFUND, {"tenant_id": tenant_id, "id": refund.id, **_refund_row(refund)}
        )

    async def get(self, tenant_id: str, refund_id: str, *, lock: bool = False) -> Refund | None:
        query = _GET_REFUND_LOCKED if lock else _GET_REFUND
        row = (await self._conn.execute(query, {"t": tenant_id, "id": refund_id})).mappings()
        found = row.first()
        return _refund(found) if found is not None else None

    async def by_reference(self, tenant_id: str, reference: str) -> Refund | None:
        if not reference:
            return None
        return await self._one(r.c.gateway_reference == reference, tenant_id)

    async def by_key(self, tenant_id: str, idempotency_key: str) -> Refund | None:
        if not idempotency_key:
            return None
        return await self._one(r.c.idempotency_key == idempotency_key, tenant_id)

    async def _one(self, condition: Any, tenant_id: str) -> Refund | None:
        query = select(r).where(r.c.tenant_id == tenant_id, condition).order_by(r.c.id).limit(1)
        row = (await self._conn.execute(query)).mappings().first()
        return _refund(row) if row is not None else None

    async def update(
        self, tenant_id: str, refund: Refund, expected: RefundStatus, version: int
    ) -> bool:
        params = {
            **_refund_row(refund),
            "b_tenant": tenant_id,
            "b_id": refund.id,
            "b_status": expected.value,
            "b_version": version,
        }
        return (await self._conn.execute(_UPDATE_REFUND, params)).rowcount == 1

    async def for_payment(self, tenant_id: str, payment_id: str) -> list[Refund]:
        return await self._many(r.c.payment_id == payment_id, tenant_id)

    async def for_credit_note(self, tenant_id: str, credit_note_id: str) -> list[Refund]:
        return await self._many(r.c.credit_note_id == credit_note_id, tenant_id)

    async def _many(self, condition: Any, tenant_id: str) -> list[Refund]:
        query = select(r).where(r.c.tenant_id == tenant_id, condition).order_by(r.c.id)
        return [_refund(row) for row in (await self._conn.execute(query)).mappings()]


def _dispute_row(dispute: Dispute) -> dict[str, Any]:
    return {
        "payment_id": dispute.payment_id,
        "attempt_id": dispute.attempt_id,
        "customer_id": dispute.customer_id,
        "gateway": dispute.gateway,
        "gateway_dispute_id": dispute.gateway_dispute_id,
        "amount_minor": dispute.amount_minor,
        "fee_minor": dispute.fee_minor,
        "currency": dispute.currency,
        "status": dispute.status.value,
        "reason": dispute.reason,
        "opened_at": dispute.opened_at,
        "updated_at": dispute.updated_at,
        "closed_at": dispute.closed_at,
        "version": dispute.version,
    }


def _dispute(row: RowMapping) -> Dispute:
    return Dispute(
        id=row["id"],
        payment_id=row["payment_id"],
        attempt_id=row["attempt_id"],
        customer_id=row["customer_id"],
        gateway=row["gateway"],
        gateway_dispute_id=row["gateway_dispute_id"],
        amount_minor=row["amount_minor"],
        fee_minor=row["fee_minor"],
        currency=row["currency"],
        status=DisputeStatus(row["status"]),
        reason=row["reason"],
        opened_at=row["opened_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        version=row["version"],
    )


class SqlDisputes:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, dispute: Dispute) -> None:
        self._conn.defer(
            _INSERT_DISPUTE, {"tenant_id": tenant_id, "id": dispute.id, **_dispute_row(dispute)}
        )

    async def get(self, tenant_id: str, dispute_id: str) -> Dispute | None:
        query = select(d).where(d.c.tenant_id == tenant_id, d.c.id == dispute_id)
        row = (await self._conn.execute(query)).mappings().first()
        return _dispute(row) if row is not None else None

    async def by_gateway_id(
        self, tenant_id: str, gateway: str, gateway_dispute_id: str
    ) -> Dispute | None:
        query = select(d).where(
            d.c.tenant_id == tenant_id,
            d.c.gateway == gateway,
            d.c.gateway_dispute_id == gateway_dispute_id,
        )
        row = (await self._conn.execute(query)).mappings().first()
        return _dispute(row) if row is not None else None

    async def update(
        self, tenant_id: str, dispute: Dispute, expected: DisputeStatus, version: int
    ) -> bool:
        params = {
            **_dispute_row(dispute),
            "b_tenant": tenant_id,
            "b_id": dispute.id,
            "b_status": expected.value,
            "b_version": version,
        }
        return (await self._conn.execute(_UPDATE_DISPUTE, params)).rowcount == 1

    async def list_after(
        self, tenant_id: str, customer_id: str, after_id: str | None, limit: int
    ) -> list[Dispute]:
        """Newest first (id descending), older than `after_id` if given."""
        query = (
            select(d)
            .where(d.c.tenant_id == tenant_id, d.c.customer_id == customer_id)
            .order_by(d.c.id.desc())
            .limit(limit)
        )
        if after_id is not None:
            query = query.where(d.c.id < after_id)
        return [_dispute(row) for row in (await self._conn.execute(query)).mappings()]


class SqlGatewayEvents:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def add(self, tenant_id: str, record: GatewayEventRecord) -> bool:
        row = {
            "tenant_id": tenant_id,
            "gateway": record.gateway,
            "event_id": record.event_id,
            "type": record.type,
            "outcome": record.outcome[:OUTCOME_MAX],
            "received_at": record.received_at,
        }
        result = await self._conn.execute(_ADD_EVENT[self._conn.dialect.name], row)
        return result.first() is not None

    async def set_outcome(self, tenant_id: str, gateway: str, event_id: str, outcome: str) -> None:
        self._conn.defer(
            _SET_EVENT_OUTCOME,
            {
                "b_tenant": tenant_id,
                "b_gateway": gateway,
                "b_event": event_id,
                "b_outcome": outcome[:OUTCOME_MAX],
            },
        )

    async def get(self, tenant_id: str, gateway: str, event_id: str) -> GatewayEventRecord | None:
        query = select(g).where(
            g.c.tenant_id == tenant_id, g.c.gateway == gateway, g.c.event_id == event_id
        )
        row = (await self._conn.execute(query)).mappings().first()
        if row is None:
            return None
        return GatewayEventRecord(
            row["gateway"], row["event_id"], row["type"], row["received_at"], row["outcome"]
        )
