"""ReceivablesService: translation only."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import instant, timestamp
from billing.app.receivables import ReceivablesUseCases
from billing.domain.aging import AgingRow
from billing_client.v1 import money_pb2, receivables_pb2_grpc
from billing_client.v1 import receivables_pb2 as pb


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def aging_row_to_proto(row: AgingRow) -> pb.ArAgingRow:
    current, d30, d60, d90, over = (_money(row.currency, b) for b in row.buckets)
    return pb.ArAgingRow(
        customer=f"customers/{row.customer_id}",
        currency_code=row.currency,
        current=current,
        days_1_30=d30,
        days_31_60=d60,
        days_61_90=d90,
        over_90=over,
        total=_money(row.currency, row.total_minor),
        invoice_count=row.invoices,
    )


class ReceivablesServicer(receivables_pb2_grpc.ReceivablesServiceServicer):  # type: ignore[misc]
    def __init__(self, receivables: ReceivablesUseCases, call_context: ContextFactory) -> None:
        self._receivables = receivables
        self._ctx = call_context

    async def GetArAging(
        self, request: pb.GetArAgingRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetArAgingResponse:
        ctx = self._ctx("GetArAging", context)
        as_of = instant(request.as_of_time, request.HasField("as_of_time"), "as_of_time")
        page = await self._receivables.ar_aging(
            ctx, as_of, request.currency_code, request.page_size, request.page_token
        )
        return pb.GetArAgingResponse(
            as_of_time=timestamp(page.as_of),
            rows=[aging_row_to_proto(row) for row in page.rows],
            next_page_token=page.next_page_token,
        )

    async def ExportJournal(
        self, request: pb.ExportJournalRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.ExportJournalChunk]:
        ctx = self._ctx("ExportJournal", context)
        async for chunk in self._receivables.export_journal(ctx, request.period):
            yield pb.ExportJournalChunk(csv=chunk)
