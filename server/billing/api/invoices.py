"""InvoiceService: translation only."""

from __future__ import annotations

import grpc

from billing.api.billing_convert import invoice_to_proto
from billing.api.context import ContextFactory
from billing.app.invoices import InvoiceUseCases
from billing_client.v1 import invoices_pb2 as pb
from billing_client.v1 import invoices_pb2_grpc


class InvoiceServicer(invoices_pb2_grpc.InvoiceServiceServicer):  # type: ignore[misc]
    def __init__(self, invoices: InvoiceUseCases, call_context: ContextFactory) -> None:
        self._invoices = invoices
        self._ctx = call_context

    async def GetInvoice(
        self, request: pb.GetInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("GetInvoice", context)
        return invoice_to_proto(await self._invoices.get(ctx, request.name))

    async def ListInvoices(
        self, request: pb.ListInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInvoicesResponse:
        ctx = self._ctx("ListInvoices", context)
        page = await self._invoices.list(
            ctx, request.customer, request.subscription, request.page_size, request.page_token
        )
        return pb.ListInvoicesResponse(
            invoices=[invoice_to_proto(i) for i in page.invoices],
            next_page_token=page.next_page_token,
        )
