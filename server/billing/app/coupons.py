"""Coupon use cases. Raises InvalidArgument, NotFound, IdempotencyKeyReused."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from billing.app.audit_records import audit_of
from billing.app.context import CallContext, Write
from billing.app.ports import Store, Transaction
from billing.app.writes import WriteRunner
from billing.domain.coupons import DURATIONS, Coupon
from billing.domain.errors import InvalidArgument, NotFound, Violations
from billing.domain.money import Money, parse_decimal

CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class NewCoupon:
    name: str
    percent_off: str
    amount_off: Money | None
    duration: str
    duration_periods: int
    plans: tuple[str, ...]


class CouponUseCases:
    def __init__(self, store: Store, writes: WriteRunner) -> None:
        self._store = store
        self._writes = writes

    async def create(self, ctx: CallContext, write: Write[NewCoupon]) -> Coupon:
        request = write.input
        v = Violations()
        code = request.name.removeprefix("coupons/")
        if not CODE_RE.match(code):
            v.add("coupon.name", "must be coupons/<code> with letters, digits, _ or -")
        percent: Decimal | None = None
        if request.percent_off:
            try:
                percent = parse_decimal(request.percent_off)
            except ValueError as exc:
                v.add("coupon.percent_off", str(exc))
            else:
                if not 0 < percent <= 100:
                    v.add("coupon.percent_off", "must be above 0 and at most 100")
        if (percent is None) == (request.amount_off is None):
            v.add("coupon.off", "give exactly one of percent_off and amount_off")
        if request.amount_off is not None and request.amount_off.amount_minor <= 0:
            v.add("coupon.amount_off", "must be positive")
        if request.duration not in DURATIONS:
            v.add("coupon.duration", "must be ONCE, REPEATING or FOREVER")
        if request.duration == "repeating" and request.duration_periods < 1:
            v.add("coupon.duration_periods", "a repeating coupon needs at least 1 period")
        plans = tuple(p.removeprefix("plans/") for p in request.plans)
        v.raise_if_any()

        async def work(tx: Transaction, now: datetime) -> Coupon:
            if await tx.coupons.get(ctx.tenant_id, code) is not None:
                raise InvalidArgument.single("coupon.name", f"coupons/{code} already exists")
            coupon = Coupon(
                code,
                percent,
                request.amount_off,
                request.duration,
                request.duration_periods if request.duration == "repeating" else None,
                plans,
                now,
            )
            await tx.coupons.insert(ctx.tenant_id, coupon)
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    coupon.name,
                    "create",
                    {},
                    now,
                )
            )
            return coupon

        return await self._writes.run(ctx, write, COUPON_CODEC, work)

    async def get(self, ctx: CallContext, name: str) -> Coupon:
        async with self._store.read() as tx:
            coupon = await tx.coupons.get(ctx.tenant_id, name.removeprefix("coupons/"))
        if coupon is None:
            raise NotFound(name)
        return coupon


class _CouponCodec:
    def encode(self, result: Coupon) -> bytes:
        return json.dumps(
            {
                "code": result.code,
                "percent_off": str(result.percent_off) if result.percent_off is not None else None,
                "amount_off": [result.amount_off.currency_code, result.amount_off.amount_minor]
                if result.amount_off
                else None,
                "duration": result.duration,
                "duration_periods": result.duration_periods,
                "plans": list(result.plans),
                "created_at": result.created_at.isoformat(),
            }
        ).encode()

    def decode(self, data: bytes) -> Coupon:
        d = json.loads(data)
        return Coupon(
            d["code"],
            Decimal(d["percent_off"]) if d["percent_off"] is not None else None,
            Money(*d["amount_off"]) if d["amount_off"] else None,
            d["duration"],
            d["duration_periods"],
            tuple(d["plans"]),
            datetime.fromisoformat(d["created_at"]),
        )


COUPON_CODEC = _CouponCodec()
