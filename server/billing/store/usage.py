"""Usage events: batched ingestion and period reads.

A batch is written with one statement, never a round trip per event: on PostgreSQL the rows
are COPYed into a temporary staging table and moved with one INSERT ... ON CONFLICT DO
NOTHING; on SQLite one multi-row INSERT ... ON CONFLICT DO NOTHING. Ids that were already
there are then read back once, so each is answered as a duplicate (same body) or refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, cast, exists, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billing.app.ports import BilledUsage, StoredEvent
from billing.domain.metering import Event, MetricSpec
from billing.store.dialect import insert_or_ignore, upsert
from billing.store.schema import usage_billed, usage_events

u = usage_events
SQL_AGGREGATIONS = frozenset({"count", "sum", "max"})  # exact in the database
_COLUMNS = (
    "tenant_id",
    "id",
    "subscription_id",
    "metric",
    "ts",
    "properties",
    "body_hash",
    "received_at",
    "corrects",
    "correction",
)


def _row(tenant_id: str, event: StoredEvent) -> dict[str, Any]:
    e = event.event
    return {
        "tenant_id": tenant_id,
        "id": e.id,
        "subscription_id": e.subscription_id,
        "metric": e.metric,
        "ts": e.timestamp,
        "properties": dict(e.properties),
        "body_hash": event.body_hash,
        "received_at": e.received_at,
        "corrects": e.corrects,
        "correction": e.correction,
    }


def _event(row: Any) -> Event:
    return Event(
        row.id,
        row.subscription_id,
        row.metric,
        row.ts,
        dict(row.properties),
        corrects=row.corrects,
        correction=row.correction,
        received_at=row.received_at,
    )


class SqlUsage:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def insert_batch(self, tenant_id: str, events: Sequence[StoredEvent]) -> set[str]:
        """Insert what is new; returns the ids that were inserted."""
        if not events:
            return set()
        if self._conn.dialect.name == "postgresql":
            return await self._copy_insert(tenant_id, events)
        result = await self._conn.execute(
            insert_or_ignore("sqlite", u, ["tenant_id", "id"]).returning(u.c.id),
            [_row(tenant_id, e) for e in events],
        )
        return {row.id for row in result}

    async def _copy_insert(self, tenant_id: str, events: Sequence[StoredEvent]) -> set[str]:
        raw = await self._conn.get_raw_connection()
        pg: Any = raw.driver_connection
        columns = ", ".join(_COLUMNS)
        async with pg.cursor() as cursor:
            await cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS usage_staging "
                "(LIKE usage_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
            )
            async with cursor.copy(f"COPY usage_staging ({columns}) FROM STDIN") as copy:
                for stored in events:
                    row = _row(tenant_id, stored)
                    row["properties"] = json.dumps(row["properties"])
                    await copy.write_row([row[c] for c in _COLUMNS])
            await cursor.execute(
                f"INSERT INTO usage_events ({columns}) SELECT {columns} FROM usage_staging "
                "ON CONFLICT DO NOTHING RETURNING id"
            )
            inserted = {row[0] for row in await cursor.fetchall()}
            await cursor.execute("DELETE FROM usage_staging")
        return inserted

    async def body_hashes(self, tenant_id: str, ids: Sequence[str]) -> dict[str, bytes]:
        if not ids:
            return {}
        rows = await self._conn.execute(
            select(u.c.id, u.c.body_hash).where(u.c.tenant_id == tenant_id, u.c.id.in_(ids))
        )
        return {row.id: bytes(row.body_hash) for row in rows}

    async def get(self, tenant_id: str, event_id: str) -> Event | None:
        row = (
            await self._conn.execute(
                select(u).where(u.c.tenant_id == tenant_id, u.c.id == event_id)
            )
        ).first()
        return _event(row) if row is not None else None

    async def in_period(
        self,
        tenant_id: str,
        subscription_id: str,
        metrics: Sequence[str],
        start: datetime,
        end: datetime,
    ) -> list[Event]:
        """The period's events with every correction of them (whenever it was received)."""
        in_range = and_(
            u.c.tenant_id == tenant_id,
            u.c.subscription_id == subscription_id,
            u.c.metric.in_(metrics),
            u.c.ts >= start,
            u.c.ts < end,
            u.c.corrects.is_(None),
        )
        originals = (await self._conn.execute(select(u).where(in_range))).all()
        if not originals:
            return []
        ids = [row.id for row in originals]
        fixes = (
            await self._conn.execute(
                select(u).where(u.c.tenant_id == tenant_id, u.c.corrects.in_(ids))
            )
        ).all()
        return [_event(row) for row in (*originals, *fixes)]

    async def billed(self, tenant_id: str, subscription_id: str) -> list[BilledUsage]:
        b = usage_billed
        rows = await self._conn.execute(
            select(b).where(b.c.tenant_id == tenant_id, b.c.subscription_id == subscription_id)
        )
        return [
            BilledUsage(
                r.price_code,
                r.period_start,
                r.period_end,
                r.quantity,
                r.amount_minor,
                r.invoice_id,
                r.billed_at,
            )
            for r in rows
        ]

    async def record_billed(
        self, tenant_id: str, subscription_id: str, billed: BilledUsage
    ) -> None:
        await self._conn.execute(
            upsert(
                self._conn.dialect.name,
                usage_billed,
                ["tenant_id", "subscription_id", "period_start", "price_code"],
                ["period_end", "quantity", "amount_minor", "invoice_id", "billed_at"],
            ),
            {
                "tenant_id": tenant_id,
                "subscription_id": subscription_id,
                "period_start": billed.period_start,
                "price_code": billed.price_code,
                "period_end": billed.period_end,
                "quantity": billed.quantity,
                "amount_minor": billed.amount_minor,
                "invoice_id": billed.invoice_id,
                "billed_at": billed.billed_at,
            },
        )

    async def simple_aggregate(
        self,
        tenant_id: str,
        subscription_id: str,
        spec: MetricSpec,
        start: datetime,
        end: datetime,
    ) -> Decimal | None:
        if spec.aggregation not in SQL_AGGREGATIONS:
            return None
        if spec.aggregation != "count" and self._conn.dialect.name != "postgresql":
            return None  # SQLite reads JSON numbers as floats: not exact enough for money
        in_range = and_(
            u.c.tenant_id == tenant_id,
            u.c.subscription_id == subscription_id,
            u.c.metric == spec.code,
            u.c.ts >= start,
            u.c.ts < end,
        )
        corrected = await self._conn.scalar(
            select(exists().where(in_range, u.c.corrects.is_not(None)))
        )
        if corrected:
            return None
        conditions = [in_range, u.c.corrects.is_(None)]
        for key, value in (spec.filters or {}).items():
            conditions.append(u.c.properties[key].as_string() == value)
        if spec.aggregation == "count":
            expression: Any = func.count()
        else:
            field = cast(u.c.properties[spec.field or ""].as_string(), Numeric)
            expression = func.sum(field) if spec.aggregation == "sum" else func.max(field)
        total = await self._conn.scalar(select(expression).where(*conditions))
        return Decimal(total) if total is not None else Decimal(0)
