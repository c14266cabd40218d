"""PaymentService's refunds, disputes and webhooks (ADR 0041): translation only. A mixin of
the PaymentServicer (`api/payments.py`), which sets `_refunds`, `_disputes`,
`_gateway_events` and `_ctx`."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.app.context import Write
from billing.app.disputes import DisputeReads
from billing.app.gateway_events import GatewayEvents
from billing.app.refunds import RefundOrder, Refunds
from billing.domain.errors import InvalidArgument
from billing.domain.money import Money, is_currency
from billing.domain.payments import Dispute, DisputeStatus, Refund, RefundStatus
from billing_client.v1 import payments_pb2 as pb

_REFUND_STATUS = {
    RefundStatus.PENDING: pb.REFUND_PENDING,
    RefundStatus.SUCCEEDED: pb.REFUND_SUCCEEDED,
    RefundStatus.FAILED: pb.REFUND_FAILED,
    RefundStatus.UNKNOWN: pb.REFUND_UNKNOWN,
}
_DISPUTE_STATUS = {
    DisputeStatus.OPEN: pb.DISPUTE_OPEN,
    DisputeStatus.WON: pb.DISPUTE_WON,
    DisputeStatus.LOST: pb.DISPUTE_LOST,
}


def refund_to_proto(refund: Refund) -> pb.Refund:
    return pb.Refund(
        name=refund.name,
        payment=f"payments/{refund.payment_id}",
        customer=f"customers/{refund.customer_id}",
        amount=money(refund.currency, refund.amount_minor),
        status=_REFUND_STATUS[refund.status],
        reason=refund.reason,
        credit_note=f"creditNotes/{refund.credit_note_id}" if refund.credit_note_id else "",
        gateway_reference=refund.gateway_reference,
        failure_message=refund.failure_message,
        create_time=timestamp(refund.created_at),
        update_time=timestamp(refund.updated_at),
    )


def dispute_to_proto(dispute: Dispute) -> pb.Dispute:
    message = pb.Dispute(
        name=dispute.name,
        payment=f"payments/{dispute.payment_id}",
        payment_attempt=f"paymentAttempts/{dispute.attempt_id}",
        customer=f"customers/{dispute.customer_id}",
        gateway_dispute_id=dispute.gateway_dispute_id,
        amount=money(dispute.currency, dispute.amount_minor),
        fee=money(dispute.currency, dispute.fee_minor),
        status=_DISPUTE_STATUS[dispute.status],
        reason=dispute.reason,
        open_time=timestamp(dispute.opened_at),
    )
    if dispute.closed_at is not None:
        message.close_time.CopyFrom(timestamp(dispute.closed_at))
    return message


@dataclass(frozen=True)
class RefundUseCases:
    refunds: Refunds
    disputes: DisputeReads
    gateway_events: GatewayEvents


class RefundRpcs:
    _refunds: Refunds
    _disputes: DisputeReads
    _gateway_events: GatewayEvents
    _ctx: ContextFactory

    async def CreateRefund(
        self, request: pb.CreateRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.Refund:
        ctx = self._ctx("CreateRefund", context)
        amount = None
        if request.HasField("amount"):
            if not is_currency(request.amount.currency_code):
                raise InvalidArgument.single("amount.currency_code", "is not an ISO 4217 code")
            amount = Money(request.amount.currency_code, request.amount.amount_minor)
        order = RefundOrder(request.payment, amount, request.reason, request.credit_note)
        write = Write(request.request_id, body_hash(request), order)
        return refund_to_proto(await self._refunds.create(ctx, write))

    async def GetRefund(
        self, request: pb.GetRefundRequest, context: grpc.aio.ServicerContext
    ) -> pb.Refund:
        ctx = self._ctx("GetRefund", context)
        return refund_to_proto(await self._refunds.get(ctx, request.name))

    async def GetDispute(
        self, request: pb.GetDisputeRequest, context: grpc.aio.ServicerContext
    ) -> pb.Dispute:
        ctx = self._ctx("GetDispute", context)
        return dispute_to_proto(await self._disputes.get(ctx, request.name))

    async def ListDisputes(
        self, request: pb.ListDisputesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDisputesResponse:
        ctx = self._ctx("ListDisputes", context)
        page = await self._disputes.list(
            ctx, request.customer, request.page_size, request.page_token
        )
        return pb.ListDisputesResponse(
            disputes=[dispute_to_proto(d) for d in page.disputes],
            next_page_token=page.next_page_token,
        )

    async def HandleGatewayEvent(
        self, request: pb.HandleGatewayEventRequest, context: grpc.aio.ServicerContext
    ) -> pb.HandleGatewayEventResponse:
        ctx = self._ctx("HandleGatewayEvent", context)
        result = await self._gateway_events.handle(
            ctx, request.gateway, dict(request.headers), request.payload
        )
        return pb.HandleGatewayEventResponse(
            event_id=result.event_id, duplicate=result.duplicate, outcome=result.outcome
        )
