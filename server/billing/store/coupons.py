"""Coupon rows."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import insert, select

from billing.domain.coupons import Coupon
from billing.domain.money import Money
from billing.store.batch import BatchedConnection
from billing.store.schema import coupons as c


class SqlCoupons:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def insert(self, tenant_id: str, coupon: Coupon) -> None:
        await self._conn.execute(
            insert(c),
            {
                "tenant_id": tenant_id,
                "code": coupon.code,
                "percent_off": str(coupon.percent_off) if coupon.percent_off is not None else None,
                "amount_off_minor": coupon.amount_off.amount_minor if coupon.amount_off else None,
                "currency": coupon.amount_off.currency_code if coupon.amount_off else None,
                "duration": coupon.duration,
                "duration_periods": coupon.duration_periods,
                "plans": list(coupon.plans),
                "created_at": coupon.created_at,
            },
        )

    async def get(self, tenant_id: str, code: str) -> Coupon | None:
        row = (
            await self._conn.execute(select(c).where(c.c.tenant_id == tenant_id, c.c.code == code))
        ).first()
        if row is None:
            return None
        return Coupon(
            code=row.code,
            percent_off=Decimal(row.percent_off) if row.percent_off is not None else None,
            amount_off=Money(row.currency, row.amount_off_minor)
            if row.amount_off_minor is not None
            else None,
            duration=row.duration,
            duration_periods=row.duration_periods,
            plans=tuple(row.plans),
            created_at=row.created_at,
        )
