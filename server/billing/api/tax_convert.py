"""Protobuf form of a tax amount (tax_types.proto), one shape for invoices, previews and
quotes."""

from __future__ import annotations

from google.type import date_pb2

from billing.domain.tax import TaxAmount
from billing_client.v1 import money_pb2, tax_types_pb2


def _money(currency: str, minor: int) -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, amount_minor=minor)


def tax_amount_to_proto(amount: TaxAmount, currency: str) -> tax_types_pb2.TaxAmount:
    message = tax_types_pb2.TaxAmount(
        jurisdiction=amount.jurisdiction,
        tax_name=amount.tax_name,
        treatment=amount.treatment.value,
        rate_name=amount.rate_name,
        percent=str(amount.percent),
        taxable=_money(currency, amount.taxable_minor),
        tax=_money(currency, amount.tax_minor),
        note=amount.note,
        rule_entry=amount.entry,
        source=amount.source,
        line_indexes=list(amount.line_indexes),
    )
    if amount.tax_point is not None:
        point = amount.tax_point
        message.tax_point.CopyFrom(date_pb2.Date(year=point.year, month=point.month, day=point.day))
    return message
