from billing_client.v1 import money_pb2 as _money_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TaxAmount(_message.Message):
    __slots__ = ("jurisdiction", "tax_name", "treatment", "rate_name", "percent", "taxable", "tax", "note", "rule_entry", "source", "tax_point", "line_indexes")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    TAX_NAME_FIELD_NUMBER: _ClassVar[int]
    TREATMENT_FIELD_NUMBER: _ClassVar[int]
    RATE_NAME_FIELD_NUMBER: _ClassVar[int]
    PERCENT_FIELD_NUMBER: _ClassVar[int]
    TAXABLE_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    NOTE_FIELD_NUMBER: _ClassVar[int]
    RULE_ENTRY_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    TAX_POINT_FIELD_NUMBER: _ClassVar[int]
    LINE_INDEXES_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    tax_name: str
    treatment: str
    rate_name: str
    percent: str
    taxable: _money_pb2.Money
    tax: _money_pb2.Money
    note: str
    rule_entry: str
    source: str
    tax_point: _date_pb2.Date
    line_indexes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, jurisdiction: _Optional[str] = ..., tax_name: _Optional[str] = ..., treatment: _Optional[str] = ..., rate_name: _Optional[str] = ..., percent: _Optional[str] = ..., taxable: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., note: _Optional[str] = ..., rule_entry: _Optional[str] = ..., source: _Optional[str] = ..., tax_point: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., line_indexes: _Optional[_Iterable[int]] = ...) -> None: ...
