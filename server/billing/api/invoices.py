"""InvoiceService: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import empty_pb2

from billing.api.billing_convert import invoice_to_proto, line_kind, money
from billing.api.context import ContextFactory
from billing.api.convert import body_hash, timestamp
from billing.api.parked import parked_to_proto
from billing.api.tax_convert import tax_amount_to_proto
from billing.app.billing_runs import BillingRuns
from billing.app.context import Write
from billing.app.invoices import CreditNoteRequest, InvoiceLifecycle, InvoiceUseCases, OneOffLine
from billing.domain.errors import InvalidArgument
from billing.domain.money import Money, is_currency
from billing.domain.tax_lines import explanation_steps
from billing_client.v1 import invoices_pb2 as pb
from billing_client.v1 import invoices_pb2_grpc


class InvoiceServicer(invoices_pb2_grpc.InvoiceServiceServicer):  # type: ignore[misc]
    def __init__(
        self,
        invoices: InvoiceUseCases,
        lifecycle: InvoiceLifecycle,
        runs: BillingRuns,
        call_context: ContextFactory,
    ) -> None:
        self._invoices = invoices
        self._lifecycle = lifecycle
        self._runs = runs
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

    async def CreateInvoice(
        self, request: pb.CreateInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("CreateInvoice", context)
        write = Write(request.request_id, body_hash(request), (request.customer, request.memo))
        return invoice_to_proto(await self._lifecycle.create_draft(ctx, write))

    async def AddInvoiceLine(
        self, request: pb.AddInvoiceLineRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("AddInvoiceLine", context)
        line = OneOffLine(
            request.invoice,
            request.description,
            request.quantity,
            request.unit_amount,
            request.tax_code,
        )
        return invoice_to_proto(
            await self._lifecycle.add_line(ctx, Write(request.request_id, body_hash(request), line))
        )

    async def UpdateInvoice(
        self, request: pb.UpdateInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("UpdateInvoice", context)
        update = (request.invoice.name, request.invoice.memo, tuple(request.update_mask.paths))
        write = Write(request.request_id, body_hash(request), update)
        return invoice_to_proto(await self._lifecycle.update_draft(ctx, write))

    async def ApplyCoupon(
        self, request: pb.ApplyCouponRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("ApplyCoupon", context)
        write = Write(request.request_id, body_hash(request), (request.invoice, request.coupon))
        return invoice_to_proto(await self._lifecycle.apply_coupon(ctx, write))

    async def DeleteInvoice(
        self, request: pb.DeleteInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        ctx = self._ctx("DeleteInvoice", context)
        await self._lifecycle.delete(
            ctx, Write(request.request_id, body_hash(request), request.name)
        )
        return empty_pb2.Empty()

    async def FinalizeInvoice(
        self, request: pb.FinalizeInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("FinalizeInvoice", context)
        write = Write(request.request_id, body_hash(request), request.name)
        return invoice_to_proto(await self._lifecycle.finalize(ctx, write))

    async def VoidInvoice(
        self, request: pb.VoidInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        return await self._move("VoidInvoice", request, context, "void", "")

    async def MarkUncollectible(
        self, request: pb.MarkUncollectibleRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        return await self._move("MarkUncollectible", request, context, "uncollectible", "")

    async def MarkPaid(
        self, request: pb.MarkPaidRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        if not request.payment_reference.strip():
            raise InvalidArgument.single("payment_reference", "is required")
        return await self._move("MarkPaid", request, context, "paid", request.payment_reference)

    async def _move(
        self,
        method: str,
        request: Any,
        context: grpc.aio.ServicerContext,
        target: str,
        reference: str,
    ) -> pb.Invoice:
        ctx = self._ctx(method, context)
        write = Write(request.request_id, body_hash(request), (request.name, target, reference))
        return invoice_to_proto(await self._lifecycle.move(ctx, write))

    async def CreateCreditNote(
        self, request: pb.CreateCreditNoteRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreditNote:
        ctx = self._ctx("CreateCreditNote", context)
        if not is_currency(request.amount.currency_code):
            raise InvalidArgument.single("amount.currency_code", "is not an ISO 4217 code")
        amount = Money(request.amount.currency_code, request.amount.amount_minor)
        write = Write(
            request.request_id,
            body_hash(request),
            CreditNoteRequest(request.invoice, amount, request.reason),
        )
        note = await self._lifecycle.credit(ctx, write)
        return pb.CreditNote(
            name=note.name,
            invoice=f"invoices/{note.invoice_id}",
            number=note.number,
            amount=money(note.amount.currency_code, note.amount.amount_minor),
            reason=note.reason,
            applied_to=note.applied_to,
            create_time=timestamp(note.created_at),
            tax=money(note.amount.currency_code, note.tax_minor),
            taxes=[tax_amount_to_proto(t, note.amount.currency_code) for t in note.taxes],
        )

    async def ExplainInvoice(
        self, request: pb.ExplainInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.InvoiceExplanation:
        ctx = self._ctx("ExplainInvoice", context)
        invoice = await self._invoices.get(ctx, request.name)
        lines = []
        for line in invoice.lines:
            d = dict(line.derivation or {})
            lines.append(
                pb.LineExplanation(
                    description=line.description,
                    rule_set=f"ruleSets/{invoice.rule_set}",
                    rule_entry=str(d.get("rule_entry") or ""),
                    proration_factor=line.factor,
                    period_start=timestamp(line.period_start),
                    period_end=timestamp(line.period_end),
                    quantity=str(line.quantity),
                    unit_amount=str(line.unit_amount),
                    unrounded_amount=str(line.unrounded),
                    rounding=str(d.get("rounding") or ""),
                    amount=money(invoice.currency, line.amount_minor),
                    steps=[
                        *(str(step) for step in d.get("steps") or ()),
                        *explanation_steps(line, invoice.currency),
                    ],
                    kind=line_kind(line),
                )
            )
        return pb.InvoiceExplanation(invoice=invoice.name, lines=lines)

    async def RunBilling(
        self, request: pb.RunBillingRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.RunBillingResponse]:
        ctx = self._ctx("RunBilling", context)
        if not request.request_id:
            raise InvalidArgument.single("request_id", "is required on every mutating call")
        async for progress in self._runs.run(
            ctx, request.subscription, request.customer, request.tenant, context.time_remaining()
        ):
            yield pb.RunBillingResponse(
                done=progress.done,
                remaining=progress.remaining,
                last_item=progress.last_item,
                finished=progress.finished,
                parked=progress.parked,
                parked_items=parked_to_proto(progress.parked_items),
            )

    async def PreviewUpcomingInvoice(
        self, request: pb.PreviewUpcomingInvoiceRequest, context: grpc.aio.ServicerContext
    ) -> pb.Invoice:
        ctx = self._ctx("PreviewUpcomingInvoice", context)
        return invoice_to_proto(await self._lifecycle.upcoming(ctx, request.subscription))
