from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetTaxReportRequest(_message.Message):
    __slots__ = ("start_date", "end_date", "jurisdiction", "currency_code")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    start_date: _date_pb2.Date
    end_date: _date_pb2.Date
    jurisdiction: str
    currency_code: str
    def __init__(self, start_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., end_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., jurisdiction: _Optional[str] = ..., currency_code: _Optional[str] = ...) -> None: ...

class TaxReport(_message.Message):
    __slots__ = ("start_date", "end_date", "rows")
    START_DATE_FIELD_NUMBER: _ClassVar[int]
    END_DATE_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    start_date: _date_pb2.Date
    end_date: _date_pb2.Date
    rows: _containers.RepeatedCompositeFieldContainer[TaxReportRow]
    def __init__(self, start_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., end_date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[TaxReportRow, _Mapping]]] = ...) -> None: ...

class TaxReportRow(_message.Message):
    __slots__ = ("jurisdiction", "tax_name", "treatment", "rate_name", "percent", "currency_code", "invoiced_taxable", "invoiced_tax", "credited_taxable", "credited_tax", "voided_taxable", "voided_tax", "net_taxable", "net_tax")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    TAX_NAME_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    RATE_NAME_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    INVOICED_TAXABLE_FIELD_NUMBER: _ClassVar[int]
    INVOICED_TAX_FIELD_NUMBER: _ClassVar[int]
    CREDITED_TAXABLE_FIELD_NUMBER: _ClassVar[int]
    CREDITED_TAX_FIELD_NUMBER: _ClassVar[int]
    VOIDED_TAXABLE_FIELD_NUMBER: _ClassVar[int]
    VOIDED_TAX_FIELD_NUMBER: _ClassVar[int]
    NET_TAXABLE_FIELD_NUMBER: _ClassVar[int]
    NET_TAX_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    tax_name: str
    treatment: str
    rate_name: str
    percent: str
    currency_code: str
    invoiced_taxable: _money_pb2.Money
    invoiced_tax: _money_pb2.Money
    credited_taxable: _money_pb2.Money
    credited_tax: _money_pb2.Money
    voided_taxable: _money_pb2.Money
    voided_tax: _money_pb2.Money
    net_taxable: _money_pb2.Money
    net_tax: _money_pb2.Money
    def __init__(self, jurisdiction: _Optional[str] = ..., tax_name: _Optional[str] = ..., treatment: _Optional[str] = ..., rate_name: _Optional[str] = ..., percent: _Optional[str] = ..., currency_code: _Optional[str] = ..., invoiced_taxable: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., invoiced_tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credited_taxable: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credited_tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., voided_taxable: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., voided_tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., net_taxable: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., net_tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...
