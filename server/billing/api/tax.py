"""TaxService: translation only."""

from __future__ import annotations

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.convert import calendar_date, date_message
from billing.api.tax_reports import report_query, report_to_proto
from billing.app.tax_ledger import TaxReports
from billing.app.tax_quotes import QuoteBuyer, QuoteInput, QuoteLine, TaxQuote, TaxQuoteUseCases
from billing.domain.customers import TaxId
from billing.domain.tax import CustomerType, TaxAmount
from billing_client.v1 import tax_pb2, tax_pb2_grpc, tax_reports_pb2, tax_types_pb2

CUSTOMER_TYPES = {
    tax_pb2.QuoteBuyer.CUSTOMER_TYPE_UNSPECIFIED: CustomerType.CONSUMER,
    tax_pb2.QuoteBuyer.BUSINESS: CustomerType.BUSINESS,
    tax_pb2.QuoteBuyer.CONSUMER: CustomerType.CONSUMER,
}


def quote_from_proto(request: tax_pb2.QuoteTaxRequest) -> QuoteInput:
    buyer = None
    if request.HasField("buyer"):
        b = request.buyer
        buyer = QuoteBuyer(
            b.country,
            b.subdivision,
            b.postal_code,
            CUSTOMER_TYPES.get(b.customer_type, CustomerType.CONSUMER),
            tuple(TaxId(t.type, t.value) for t in b.tax_ids),
        )
    return QuoteInput(
        lines=tuple(_line(line) for line in request.lines),
        customer=request.customer,
        buyer=buyer,
        on=calendar_date(request.date, request.HasField("date"), "date"),
        currency=request.currency_code,
    )


def _line(line: tax_pb2.QuoteLine) -> QuoteLine:
    has_amount = line.HasField("amount")
    return QuoteLine(
        plan=line.plan,
        price=line.price,
        amount_minor=line.amount.amount_minor if has_amount else None,
        amount_currency=line.amount.currency_code if has_amount else "",
        unit_amount=line.unit_amount,
        quantity=line.quantity,
        tax_code=line.tax_code,
        inclusive=line.inclusive if line.HasField("inclusive") else None,
    )


def tax_amount_to_proto(amount: TaxAmount, currency: str) -> tax_types_pb2.TaxAmount:
    message = tax_types_pb2.TaxAmount(
        jurisdiction=amount.jurisdiction,
        tax_name=amount.tax_name,
        treatment=str(amount.treatment),
        rate_name=amount.rate_name,
        percent=str(amount.percent),
        taxable=money(currency, amount.taxable_minor),
        tax=money(currency, amount.tax_minor),
        note=amount.note,
        rule_entry=amount.entry,
        source=amount.source,
        line_indexes=list(amount.line_indexes),
    )
    if amount.tax_point is not None:
        message.tax_point.CopyFrom(date_message(amount.tax_point))
    return message


def quote_to_proto(quote: TaxQuote) -> tax_pb2.TaxQuote:
    currency = quote.currency
    return tax_pb2.TaxQuote(
        lines=[
            tax_pb2.QuotedLine(
                net=money(currency, line.net_minor),
                tax=money(currency, line.tax_minor),
                gross=money(currency, line.gross_minor),
                tax_code=line.tax_code,
                inclusive=line.inclusive,
            )
            for line in quote.lines
        ],
        taxes=[tax_amount_to_proto(a, currency) for a in quote.outcome.amounts],
        net=money(currency, quote.net_minor),
        tax=money(currency, quote.tax_minor),
        gross=money(currency, quote.net_minor + quote.tax_minor),
        notes=list(quote.outcome.notes),
        rule_set=quote.rules.name,
        date=date_message(quote.on),
        jurisdiction=quote.jurisdiction,
    )


class TaxServicer(tax_pb2_grpc.TaxServiceServicer):  # type: ignore[misc]
    def __init__(
        self, quotes: TaxQuoteUseCases, reports: TaxReports, call_context: ContextFactory
    ) -> None:
        self._quotes = quotes
        self._reports = reports
        self._ctx = call_context

    async def QuoteTax(
        self, request: tax_pb2.QuoteTaxRequest, context: grpc.aio.ServicerContext
    ) -> tax_pb2.TaxQuote:
        ctx = self._ctx("QuoteTax", context)
        quote = await self._quotes.quote(ctx, quote_from_proto(request))
        return quote_to_proto(quote)

    async def GetTaxReport(
        self, request: tax_reports_pb2.GetTaxReportRequest, context: grpc.aio.ServicerContext
    ) -> tax_reports_pb2.TaxReport:
        ctx = self._ctx("GetTaxReport", context)
        return report_to_proto(await self._reports.report(ctx, report_query(request)))
