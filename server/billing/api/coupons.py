"""CouponService: translation only."""

from __future__ import annotations

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.app.context import Write
from billing.app.coupons import CouponUseCases, NewCoupon
from billing.domain.coupons import Coupon
from billing.domain.errors import InvalidArgument
from billing.domain.money import Money, is_currency
from billing_client.v1 import coupons_pb2 as pb
from billing_client.v1 import coupons_pb2_grpc

DURATIONS = {pb.ONCE: "once", pb.REPEATING: "repeating", pb.FOREVER: "forever"}
DURATION_ENUM = {v: k for k, v in DURATIONS.items()}


def coupon_to_proto(coupon: Coupon) -> pb.Coupon:
    message = pb.Coupon(
        name=coupon.name,
        duration=DURATION_ENUM[coupon.duration],
        duration_periods=coupon.duration_periods or 0,
        applies_to_plans=[f"plans/{p}" for p in coupon.plans],
        create_time=timestamp(coupon.created_at),
    )
    if coupon.percent_off is not None:
        message.percent_off = str(coupon.percent_off)
    elif coupon.amount_off is not None:
        message.amount_off.CopyFrom(
            money(coupon.amount_off.currency_code, coupon.amount_off.amount_minor)
        )
    return message


class CouponServicer(coupons_pb2_grpc.CouponServiceServicer):  # type: ignore[misc]
    def __init__(self, coupons: CouponUseCases, call_context: ContextFactory) -> None:
        self._coupons = coupons
        self._ctx = call_context

    async def CreateCoupon(
        self, request: pb.CreateCouponRequest, context: grpc.aio.ServicerContext
    ) -> pb.Coupon:
        ctx = self._ctx("CreateCoupon", context)
        c = request.coupon
        amount_off = None
        if c.HasField("amount_off"):
            if not is_currency(c.amount_off.currency_code):
                raise InvalidArgument.single("coupon.amount_off.currency_code", "is not ISO 4217")
            amount_off = Money(c.amount_off.currency_code, c.amount_off.amount_minor)
        new = NewCoupon(
            c.name,
            c.percent_off,
            amount_off,
            DURATIONS.get(c.duration, ""),
            c.duration_periods,
            tuple(c.applies_to_plans),
        )
        return coupon_to_proto(
            await self._coupons.create(ctx, Write(request.request_id, body_hash(request), new))
        )

    async def GetCoupon(
        self, request: pb.GetCouponRequest, context: grpc.aio.ServicerContext
    ) -> pb.Coupon:
        ctx = self._ctx("GetCoupon", context)
        return coupon_to_proto(await self._coupons.get(ctx, request.name))
