"""SubscriptionService: translation only."""

from __future__ import annotations

import re

import grpc

from billing.api.billing_convert import (
    FIRST_STUB_FROM_PROTO,
    money,
    proration_line_to_proto,
    subscription_to_proto,
)
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.api.tax_convert import tax_amount_to_proto
from billing.app.cancellation_ports import (
    UNSPECIFIED_REASON,
    CancellationQuery,
    CancellationRecord,
)
from billing.app.context import Write
from billing.app.subscriptions import (
    Cancellation,
    ChangeRequest,
    NewSubscription,
    SubscriptionUseCases,
)
from billing.domain.errors import InvalidArgument
from billing.domain.subscriptions import Phase, StubProration
from billing.domain.tax_lines import summary as tax_summary
from billing_client.v1 import subscriptions_pb2 as pb
from billing_client.v1 import subscriptions_pb2_grpc


def _change(message: pb.SubscriptionChange, etag: str = "") -> ChangeRequest:
    return ChangeRequest(
        subscription=message.subscription,
        plan=message.plan,
        quantities=dict(message.quantities),
        proration_time=instant(
            message.proration_time, message.HasField("proration_time"), "change.proration_time"
        ),
        etag=etag,
    )


def _first_stub(value: pb.FirstStubProration) -> StubProration:
    stub = FIRST_STUB_FROM_PROTO.get(value)
    if stub is None:
        raise InvalidArgument.single("first_stub_proration", f"unknown value {value}")
    return stub


class SubscriptionServicer(subscriptions_pb2_grpc.SubscriptionServiceServicer):  # type: ignore[misc]
    def __init__(self, subscriptions: SubscriptionUseCases, call_context: ContextFactory) -> None:
        self._subs = subscriptions
        self._ctx = call_context

    async def CreateSubscription(
        self, request: pb.CreateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("CreateSubscription", context)
        new = NewSubscription(
            customer=request.customer,
            plan=request.plan,
            quantities=dict(request.quantities),
            price_overrides=dict(request.price_overrides),
            start_time=instant(request.start_time, request.HasField("start_time"), "start_time"),
            anchor_day=request.billing_cycle_anchor_day,
            trial_days=request.trial_days,
            term_periods=request.term_periods,
            auto_renew=request.auto_renew or not request.term_periods,
            phases=tuple(
                Phase(
                    p.start_period,
                    p.plan.removeprefix("plans/"),
                    dict(p.quantities),
                    dict(p.price_overrides),
                )
                for p in request.phases
            ),
            coupon=request.coupon,
            first_stub=_first_stub(request.first_stub_proration),
            base_subscription=request.base_subscription,
        )
        created = await self._subs.create(ctx, Write(request.request_id, body_hash(request), new))
        return subscription_to_proto(created)

    async def GetSubscription(
        self, request: pb.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("GetSubscription", context)
        return subscription_to_proto(await self._subs.get(ctx, request.name))

    async def ListSubscriptions(
        self, request: pb.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSubscriptionsResponse:
        ctx = self._ctx("ListSubscriptions", context)
        page = await self._subs.list_page(
            ctx, request.customer, request.page_size, request.page_token
        )
        return pb.ListSubscriptionsResponse(
            subscriptions=[subscription_to_proto(s) for s in page.subscriptions],
            next_page_token=page.next_page_token,
        )

    async def PreviewChange(
        self, request: pb.PreviewChangeRequest, context: grpc.aio.ServicerContext
    ) -> pb.PreviewChangeResponse:
        ctx = self._ctx("PreviewChange", context)
        planned = await self._subs.preview_change(ctx, _change(request.change))
        currency = planned.subscription.currency
        taxes = tax_summary(planned.taxed or ())
        return pb.PreviewChangeResponse(
            lines=[proration_line_to_proto(line, currency) for line in planned.lines],
            proration_time=timestamp(planned.at),
            at_period_end=planned.at_period_end,
            proration_behavior=planned.behavior,
            rule_set=planned.rules.name,
            tax=money(currency, taxes.tax_minor),
            taxes=[tax_amount_to_proto(amount, currency) for amount in taxes.amounts],
            tax_notes=list(taxes.notes),
        )

    async def ChangeSubscription(
        self, request: pb.ChangeSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.ChangeSubscriptionResponse:
        ctx = self._ctx("ChangeSubscription", context)
        write = Write(request.request_id, body_hash(request), _change(request.change, request.etag))
        result = await self._subs.change(ctx, write)
        currency = result.subscription.currency
        return pb.ChangeSubscriptionResponse(
            subscription=subscription_to_proto(result.subscription),
            lines=[proration_line_to_proto(line, currency) for line in result.lines],
            invoice=f"invoices/{result.invoice_id}" if result.invoice_id else "",
            proration_time=timestamp(result.at),
        )

    async def CancelSubscription(
        self, request: pb.CancelSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("CancelSubscription", context)
        mode = request.WhichOneof("when")
        if mode is None or (
            mode in {"immediately", "at_period_end"} and not getattr(request, mode)
        ):
            raise InvalidArgument.single("when", "set immediately, at_period_end or at")
        cancellation = Cancellation(
            request.name,
            mode,
            instant(request.at, mode == "at", "at"),
            request.etag,
            reason_code(request.reason_code, "reason_code") or UNSPECIFIED_REASON,
            request.feedback,
        )
        write = Write(request.request_id, body_hash(request), cancellation)
        return subscription_to_proto(await self._subs.cancel(ctx, write))

    async def ReactivateSubscription(
        self, request: pb.ReactivateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("ReactivateSubscription", context)
        write = Write(request.request_id, body_hash(request), (request.name, request.etag))
        return subscription_to_proto(await self._subs.reactivate(ctx, write))

    async def PauseSubscription(
        self, request: pb.PauseSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("PauseSubscription", context)
        write = Write(request.request_id, body_hash(request), (request.name, request.etag))
        return subscription_to_proto(await self._subs.pause(ctx, write))

    async def ResumeSubscription(
        self, request: pb.ResumeSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        ctx = self._ctx("ResumeSubscription", context)
        write = Write(request.request_id, body_hash(request), (request.name, request.etag))
        return subscription_to_proto(await self._subs.resume(ctx, write))

    async def GetEntitlements(
        self, request: pb.GetEntitlementsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetEntitlementsResponse:
        ctx = self._ctx("GetEntitlements", context)
        features, rule_set = await self._subs.customer_entitlements(ctx, request.customer)
        return pb.GetEntitlementsResponse(
            features=[
                pb.CustomerFeature(
                    feature=f.feature,
                    limit=f.limit,
                    subscriptions=[f"subscriptions/{i}" for i in f.subscription_ids],
                )
                for f in features
            ],
            rule_set=rule_set,
        )

    async def ListCancellations(
        self, request: pb.ListCancellationsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListCancellationsResponse:
        ctx = self._ctx("ListCancellations", context)
        query = CancellationQuery(
            instant(request.start_time, request.HasField("start_time"), "start_time"),
            instant(request.end_time, request.HasField("end_time"), "end_time"),
            reason_code(request.reason_code, "reason_code"),
        )
        page, token, counts = await self._subs.cancellations(
            ctx, query, request.page_size, request.page_token
        )
        return pb.ListCancellationsResponse(
            cancellations=[_cancellation_to_proto(record) for record in page],
            next_page_token=token,
            counts_by_reason=counts,
        )

    async def ListEntitlements(
        self, request: pb.ListEntitlementsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListEntitlementsResponse:
        ctx = self._ctx("ListEntitlements", context)
        features, rules = await self._subs.entitlements(ctx, request.subscription)
        return pb.ListEntitlementsResponse(
            features=[
                pb.GrantedFeature(feature=f, limit=limit)
                if limit is not None
                else pb.GrantedFeature(feature=f)
                for f, limit in features
            ],
            rule_set=rules.name,
        )


REASON_CODE = re.compile(r"[a-z][a-z0-9_]{0,63}")


def reason_code(value: str, field: str) -> str:
    """A reason code as given, or INVALID_ARGUMENT naming `field`; "" stays ""."""
    if value and not REASON_CODE.fullmatch(value):
        raise InvalidArgument.single(
            field, "must be lower case letters, digits and _, starting with a letter"
        )
    return value


def _cancellation_to_proto(record: CancellationRecord) -> pb.Cancellation:
    message = pb.Cancellation(
        subscription=f"subscriptions/{record.subscription_id}",
        customer=f"customers/{record.customer_id}",
        reason_code=record.reason_code,
        feedback=record.feedback,
        mode=record.mode,
        request_time=timestamp(record.requested_at),
        effective_time=timestamp(record.effective_at),
        mrr=money(record.currency, record.mrr_minor),
    )
    if record.withdrawn_at is not None:
        message.withdraw_time.CopyFrom(timestamp(record.withdrawn_at))
    return message
