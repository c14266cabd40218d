"""LedgerService: translation only."""

from __future__ import annotations

import grpc

from billing.api.context import ContextFactory
from billing.api.convert import body_hash, instant, timestamp
from billing.app.context import Write
from billing.app.ledger import Books, LedgerUseCases
from billing.domain.ledger import JournalEntry
from billing_client.v1 import ledger_pb2 as pb
from billing_client.v1 import ledger_pb2_grpc, money_pb2


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def entry_to_proto(entry: JournalEntry) -> pb.JournalEntry:
    reporting = entry.reporting_currency
    return pb.JournalEntry(
        name=f"journalEntries/{entry.id}",
        kind=entry.kind.value,
        source=entry.source,
        post_time=timestamp(entry.posted_at),
        period=entry.period,
        currency_code=entry.currency,
        customer=f"customers/{entry.customer_id}" if entry.customer_id else "",
        memo=entry.memo,
        adjusts=entry.adjusts or "",
        reporting_currency_code=reporting,
        lines=[
            pb.JournalLine(
                account=line.account,
                debit=_money(entry.currency, line.debit_minor),
                credit=_money(entry.currency, line.credit_minor),
                reporting_debit=_money(reporting, line.reporting_debit_minor or 0)
                if reporting
                else None,
                reporting_credit=_money(reporting, line.reporting_credit_minor or 0)
                if reporting
                else None,
            )
            for line in entry.lines
        ],
    )


def books_to_proto(books: Books) -> pb.Books:
    return pb.Books(
        closed_through=books.closed_through,
        close_time=timestamp(books.closed_at) if books.closed_at else None,
        closed_by=books.closed_by,
    )


class LedgerServicer(ledger_pb2_grpc.LedgerServiceServicer):  # type: ignore[misc]
    def __init__(self, ledger: LedgerUseCases, call_context: ContextFactory) -> None:
        self._ledger = ledger
        self._ctx = call_context

    async def GetTrialBalance(
        self, request: pb.GetTrialBalanceRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetTrialBalanceResponse:
        ctx = self._ctx("GetTrialBalance", context)
        as_of = instant(request.as_of_time, request.HasField("as_of_time"), "as_of_time")
        at, rows = await self._ledger.trial_balance(ctx, as_of, request.currency_code)
        return pb.GetTrialBalanceResponse(
            as_of_time=timestamp(at),
            rows=[
                pb.TrialBalanceRow(
                    account=r.account,
                    gl_code=r.gl_code,
                    gl_name=r.gl_name,
                    debits=_money(r.currency, r.debit_minor),
                    credits=_money(r.currency, r.credit_minor),
                    balance=_money(r.currency, r.balance_minor),
                )
                for r in rows
            ],
        )

    async def ListJournalEntries(
        self, request: pb.ListJournalEntriesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJournalEntriesResponse:
        ctx = self._ctx("ListJournalEntries", context)
        page = await self._ledger.entries(
            ctx, request.period, request.source, request.kind, request.page_size,
            request.page_token,
        )  # fmt: skip
        return pb.ListJournalEntriesResponse(
            entries=[entry_to_proto(e) for e in page.entries],
            next_page_token=page.next_page_token,
        )

    async def VerifyJournal(
        self, request: pb.VerifyJournalRequest, context: grpc.aio.ServicerContext
    ) -> pb.VerifyJournalResponse:
        ctx = self._ctx("VerifyJournal", context)
        result = await self._ledger.chain.verify(ctx.tenant_id)
        return pb.VerifyJournalResponse(
            ok=result.ok,
            sealed_count=result.sealed,
            first_broken_seq=result.first_broken_seq,
            problem=result.problem,
            waiting_count=result.waiting,
        )

    async def ClosePeriod(
        self, request: pb.ClosePeriodRequest, context: grpc.aio.ServicerContext
    ) -> pb.Books:
        ctx = self._ctx("ClosePeriod", context)
        write = Write(request.request_id, body_hash(request), request.period)
        return books_to_proto(await self._ledger.close_period(ctx, write))

    async def GetBooks(
        self, request: pb.GetBooksRequest, context: grpc.aio.ServicerContext
    ) -> pb.Books:
        return books_to_proto(await self._ledger.books(self._ctx("GetBooks", context)))

    async def GetRevenueByProduct(
        self, request: pb.GetRevenueByProductRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetRevenueByProductResponse:
        ctx = self._ctx("GetRevenueByProduct", context)
        rows = await self._ledger.revenue_by_product(ctx, request.start_period, request.end_period)
        return pb.GetRevenueByProductResponse(
            rows=[
                pb.RevenueRow(period=p, product_line=line, revenue=_money(c, amount))
                for p, line, c, amount in rows
            ]
        )

    async def GetDeferredRevenueRollforward(
        self, request: pb.GetDeferredRevenueRollforwardRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDeferredRevenueRollforwardResponse:
        ctx = self._ctx("GetDeferredRevenueRollforward", context)
        rows = await self._ledger.rollforward(ctx, request.start_period, request.end_period)
        return pb.GetDeferredRevenueRollforwardResponse(
            rows=[
                pb.RollforwardRow(
                    period=r.period,
                    opening=_money(r.currency, r.opening_minor),
                    billed=_money(r.currency, r.billed_minor),
                    recognized=_money(r.currency, r.recognized_minor),
                    closing=_money(r.currency, r.closing_minor),
                )
                for r in rows
            ]
        )

    async def GetDeferredRevenueWaterfall(
        self, request: pb.GetDeferredRevenueWaterfallRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetDeferredRevenueWaterfallResponse:
        ctx = self._ctx("GetDeferredRevenueWaterfall", context)
        totals = await self._ledger.waterfall(ctx, request.months)
        return pb.GetDeferredRevenueWaterfallResponse(
            rows=[
                pb.WaterfallRow(period=period, amount=_money(currency, amount))
                for (period, currency), amount in sorted(totals.items())
            ]
        )
