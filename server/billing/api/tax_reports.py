"""GetTaxReport: translation only."""

from __future__ import annotations

import grpc

from billing.api.billing_convert import money
from billing.api.context import ContextFactory
from billing.api.tax_convert import date_from_proto, date_to_proto
from billing.app.tax_ledger import TaxReport, TaxReports
from billing.domain.tax_ledger import TaxReportQuery, TaxReportRow
from billing_client.v1 import tax_reports_pb2 as pb
from billing_client.v1 import tax_reports_pb2_grpc


def report_query(request: pb.GetTaxReportRequest) -> TaxReportQuery:
    return TaxReportQuery(
        start=date_from_proto(request.start_date, "start_date"),
        end=date_from_proto(request.end_date, "end_date"),
        jurisdiction=request.jurisdiction,
        currency=request.currency_code,
    )


def report_to_proto(report: TaxReport) -> pb.TaxReport:
    return pb.TaxReport(
        start_date=date_to_proto(report.query.start),
        end_date=date_to_proto(report.query.end),
        rows=[_row(row) for row in report.rows],
    )


def _row(row: TaxReportRow) -> pb.TaxReportRow:
    key = row.key
    currency = key.currency
    return pb.TaxReportRow(
        jurisdiction=key.jurisdiction,
        tax_name=key.tax_name,
        treatment=key.treatment,
        rate_name=key.rate_name,
        percent=key.percent,
        currency_code=currency,
        invoiced_taxable=money(currency, row.invoiced_taxable_minor),
        invoiced_tax=money(currency, row.invoiced_tax_minor),
        credited_taxable=money(currency, row.credited_taxable_minor),
        credited_tax=money(currency, row.credited_tax_minor),
        voided_taxable=money(currency, row.voided_taxable_minor),
        voided_tax=money(currency, row.voided_tax_minor),
        net_taxable=money(currency, row.net_taxable_minor),
        net_tax=money(currency, row.net_tax_minor),
    )


class TaxReportServicer(tax_reports_pb2_grpc.TaxReportServiceServicer):  # type: ignore[misc]
    def __init__(self, reports: TaxReports, call_context: ContextFactory) -> None:
        self._reports = reports
        self._ctx = call_context

    async def GetTaxReport(
        self, request: pb.GetTaxReportRequest, context: grpc.aio.ServicerContext
    ) -> pb.TaxReport:
        ctx = self._ctx("GetTaxReport", context)
        return report_to_proto(await self._reports.report(ctx, report_query(request)))
