"""GetTaxReport (TaxService): translation only."""

from __future__ import annotations

from datetime import date

from billing.api.billing_convert import money
from billing.api.convert import calendar_date, date_message
from billing.app.tax_ledger import TaxReport
from billing.domain.errors import InvalidArgument
from billing.domain.tax_ledger import TaxReportQuery, TaxReportRow
from billing_client.v1 import tax_reports_pb2 as pb


def report_query(request: pb.GetTaxReportRequest) -> TaxReportQuery:
    return TaxReportQuery(
        start=_required_date(request, "start_date"),
        end=_required_date(request, "end_date"),
        jurisdiction=request.jurisdiction,
        currency=request.currency_code,
    )


def report_to_proto(report: TaxReport) -> pb.TaxReport:
    return pb.TaxReport(
        start_date=date_message(report.query.start),
        end_date=date_message(report.query.end),
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


def _required_date(request: pb.GetTaxReportRequest, field: str) -> date:
    day = calendar_date(getattr(request, field), request.HasField(field), field)
    if day is None:
        raise InvalidArgument.single(field, "is required")
    return day
