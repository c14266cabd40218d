"""PaymentService: translation only. Refunds, disputes and gateway webhooks are in
`api/refunds.py` (a mixin of the servicer)."""

from __future__ import annotations

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.api.refunds import RefundRpcs, RefundUseCases
from billing.app.circuit_breakers import BreakerState
from billing.app.context import Write
from billing.app.manual_payments import ManualPayment, ManualPayments
from billing.app.payment_methods import MethodView, NewMethod, PaymentMethods
from billing.app.payment_ports import StoredCredentials
from billing.app.payments import AttemptView, GatewayView, PaymentUseCases, PayOrder
from billing.domain.errors import InvalidArgument
from billing.domain.money import AmountOutOfRange, Money, is_currency
from billing.domain.payments import AttemptStatus, MethodType, Payment
from billing_client.v1 import money_pb2, payments_pb2_grpc
from billing_client.v1 import payments_pb2 as pb

METHOD_TYPES = {
    pb.CARD: MethodType.CARD,
    pb.SEPA_DEBIT: MethodType.SEPA_DEBIT,
    pb.ACH_DEBIT: MethodType.ACH_DEBIT,
    pb.BACS_DEBIT: MethodType.BACS_DEBIT,
    pb.WALLET: MethodType.WALLET,
}
METHOD_TYPE_ENUM = {v: k for k, v in METHOD_TYPES.items()}
ATTEMPT_STATUS = {
    AttemptStatus.PENDING: pb.PENDING,
    AttemptStatus.SUCCEEDED: pb.SUCCEEDED,
    AttemptStatus.FAILED: pb.FAILED,
    AttemptStatus.REQUIRES_ACTION: pb.REQUIRES_ACTION,
    AttemptStatus.UNKNOWN: pb.UNKNOWN,
}


def money_from_proto(message: money_pb2.Money, field: str) -> Money:
    if not is_currency(message.currency_code):
        raise InvalidArgument.single(f"{field}.currency_code", "is not ISO 4217")
    try:
        return Money(message.currency_code, message.amount_minor)
    except AmountOutOfRange as exc:
        raise exc.naming(f"{field}.amount_minor") from None


def method_to_proto(view: MethodView) -> pb.PaymentMethod:
    m = view.method
    message = pb.PaymentMethod(
        name=m.name,
        customer=f"customers/{m.customer_id}",
        gateway=m.gateway,
        type=METHOD_TYPE_ENUM[m.type],
        fingerprint=m.fingerprint,
        brand=m.brand,
        last4=m.last4,
        exp_month=m.exp_month,
        exp_year=m.exp_year,
        country=m.country,
        billing_country=m.billing_country,
        is_default=view.is_default,
        create_time=timestamp(m.created_at),
        etag=f'W/"{m.version}"',
    )
    if m.detached_at is not None:
        message.detach_time.CopyFrom(timestamp(m.detached_at))
    return message


def attempt_to_proto(view: AttemptView) -> pb.PaymentAttempt:
    a = view.attempt
    return pb.PaymentAttempt(
        name=a.name,
        customer=f"customers/{a.customer_id}",
        invoice=f"invoices/{a.invoice_id}" if a.invoice_id else "",
        payment_method=f"paymentMethods/{a.payment_method_id}",
        gateway=a.gateway,
        amount=money(a.currency, a.amount_minor),
        status=ATTEMPT_STATUS[a.status],
        gateway_reference=a.gateway_reference,
        decline_code=a.decline_code,
        failure_message=a.failure_message,
        action_url=a.action_url,
        fraud_outcome=a.fraud_outcome.value,
        fraud_reasons=list(a.fraud_reasons),
        source=a.source,
        lookups=a.lookups,
        create_time=timestamp(a.created_at),
        update_time=timestamp(a.updated_at),
        payment=f"payments/{view.payment_id}" if view.payment_id else "",
        etag=f'W/"{a.version}"',
    )


def payment_to_proto(p: Payment) -> pb.Payment:
    return pb.Payment(
        name=p.name,
        customer=f"customers/{p.customer_id}",
        amount=money(p.currency, p.amount_minor),
        source=p.source.value,
        allocations=[
            pb.PaymentAllocation(
                invoice=f"invoices/{a.invoice_id}", amount=money(p.currency, a.amount_minor)
            )
            for a in p.allocations
        ],
        to_credit=money(p.currency, p.to_credit_minor),
        payment_attempt=f"paymentAttempts/{p.attempt_id}" if p.attempt_id else "",
        reference=p.reference,
        method=p.method,
        refunded=money(p.currency, p.refunded_minor),
        disputed=money(p.currency, p.disputed_minor),
        receive_time=timestamp(p.received_at),
    )


def gateway_to_proto(view: GatewayView) -> pb.Gateway:
    breaker: BreakerState = view.breaker
    message = pb.Gateway(
        name=view.name,
        engine=view.engine,
        circuit_state=breaker.state,
        consecutive_failures=breaker.consecutive_failures,
        has_credentials=view.has_credentials,
    )
    if breaker.retry_at is not None:
        message.retry_time.CopyFrom(timestamp(breaker.retry_at))
    return message


def credentials_to_proto(stored: StoredCredentials) -> pb.GatewayCredentials:
    return pb.GatewayCredentials(
        gateway=stored.gateway,
        names=sorted(stored.values),
        key_id=stored.key_id,
        update_time=timestamp(stored.updated_at),
    )


class PaymentServicer(RefundRpcs, payments_pb2_grpc.PaymentServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        methods: PaymentMethods,
        payments: PaymentUseCases,
        manual: ManualPayments,
        refunds: RefundUseCases,
        call_context: ContextFactory,
    ) -> None:
        self._methods = methods
        self._payments = payments
        self._manual = manual
        # Refunds, disputes and webhooks (ADR 0041): their RPCs are in api/refunds.py.
        self._refunds = refunds.refunds
        self._disputes = refunds.disputes
        self._gateway_events = refunds.gateway_events
        self._ctx = call_context

    async def AttachPaymentMethod(
        self, request: pb.AttachPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> pb.PaymentMethod:
        ctx = self._ctx("AttachPaymentMethod", context)
        method_type = METHOD_TYPES.get(request.type)
        new = NewMethod(
            customer=request.customer,
            gateway=request.gateway,
            token=request.token,
            type=method_type.value if method_type is not None else "",
            fingerprint=request.fingerprint,
            brand=request.brand,
            last4=request.last4,
            exp_month=request.exp_month,
            exp_year=request.exp_year,
            country=request.country,
            billing_country=request.billing_country,
            set_default=request.set_default,
        )
        view = await self._methods.attach(ctx, Write(request.request_id, body_hash(request), new))
        return method_to_proto(view)

    async def ListPaymentMethods(
        self, request: pb.ListPaymentMethodsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPaymentMethodsResponse:
        ctx = self._ctx("ListPaymentMethods", context)
        page = await self._methods.list(
            ctx, request.customer, request.include_detached, request.page_size, request.page_token
        )
        return pb.ListPaymentMethodsResponse(
            payment_methods=[method_to_proto(v) for v in page.methods],
            next_page_token=page.next_page_token,
        )

    async def SetDefaultPaymentMethod(
        self, request: pb.SetDefaultPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> pb.PaymentMethod:
        ctx = self._ctx("SetDefaultPaymentMethod", context)
        write = Write(
            request.request_id, body_hash(request), (request.payment_method, request.subscription)
        )
        return method_to_proto(await self._methods.set_default(ctx, write))

    async def DetachPaymentMethod(
        self, request: pb.DetachPaymentMethodRequest, context: grpc.aio.ServicerContext
    ) -> pb.PaymentMethod:
        ctx = self._ctx("DetachPaymentMethod", context)
        write = Write(request.request_id, body_hash(request), request.name)
        return method_to_proto(await self._methods.detach(ctx, write))

    async def PayInvoice(
        self, request: pb.PayInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.PaymentAttempt:
        ctx = self._ctx("PayInvoice", context)
        amount = money_from_proto(request.amount, "amount") if request.HasField("amount") else None
        order = PayOrder(request.invoice, request.payment_method, amount, request.request_country)
        view = await self._payments.pay_invoice(
            ctx, Write(request.request_id, body_hash(request), order)
        )
        return attempt_to_proto(view)

    async def GetPaymentAttempt(
        self, request: pb.GetPaymentAttemptRequest, context: grpc.aio.ServicerContext
    ) -> pb.PaymentAttempt:
        ctx = self._ctx("GetPaymentAttempt", context)
        return attempt_to_proto(await self._payments.get_attempt(ctx, request.name))

    async def ListPaymentAttempts(
        self, request: pb.ListPaymentAttemptsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPaymentAttemptsResponse:
        ctx = self._ctx("ListPaymentAttempts", context)
        page = await self._payments.list_attempts(
            ctx, request.customer, request.invoice, request.page_size, request.page_token
        )
        return pb.ListPaymentAttemptsResponse(
            payment_attempts=[attempt_to_proto(v) for v in page.attempts],
            next_page_token=page.next_page_token,
        )

    async def RecordPayment(
        self, request: pb.RecordPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.Payment:
        ctx = self._ctx("RecordPayment", context)
        if not request.HasField("amount"):
            raise InvalidArgument.single("amount", "is required")
        amount = money_from_proto(request.amount, "amount")
        allocations = tuple(
            (a.invoice, money_from_proto(a.amount, f"allocations[{i}].amount"))
            for i, a in enumerate(request.allocations)
        )
        manual = ManualPayment(
            request.customer,
            amount,
            request.method,
            request.reference,
            allocations,
            instant(request.receive_time, request.HasField("receive_time"), "receive_time"),
        )
        payment = await self._manual.record(
            ctx, Write(request.request_id, body_hash(request), manual)
        )
        return payment_to_proto(payment)

    async def GetPayment(
        self, request: pb.GetPaymentRequest, context: grpc.aio.ServicerContext
    ) -> pb.Payment:
        ctx = self._ctx("GetPayment", context)
        return payment_to_proto(await self._payments.get_payment(ctx, request.name))

    async def ListPayments(
        self, request: pb.ListPaymentsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPaymentsResponse:
        ctx = self._ctx("ListPayments", context)
        page = await self._payments.list_payments(
            ctx, request.customer, request.invoice, request.page_size, request.page_token
        )
        return pb.ListPaymentsResponse(
            payments=[payment_to_proto(p) for p in page.payments],
            next_page_token=page.next_page_token,
        )

    async def ListGateways(
        self, request: pb.ListGatewaysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListGatewaysResponse:
        ctx = self._ctx("ListGateways", context)
        views = await self._payments.list_gateways(ctx)
        return pb.ListGatewaysResponse(gateways=[gateway_to_proto(v) for v in views])

    async def SetGatewayCredentials(
        self, request: pb.SetGatewayCredentialsRequest, context: grpc.aio.ServicerContext
    ) -> pb.GatewayCredentials:
        ctx = self._ctx("SetGatewayCredentials", context)
        write = Write(
            request.request_id, body_hash(request), (request.gateway, dict(request.credentials))
        )
        return credentials_to_proto(await self._payments.set_credentials(ctx, write))
