import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetArAgingRequest(_message.Message):
    __slots__ = ("as_of_time", "currency_code", "page_size", "page_token")
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    as_of_time: _timestamp_pb2.Timestamp
    currency_code: str
    page_size: int
    page_token: str
    def __init__(self, as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency_code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ArAgingRow(_message.Message):
    __slots__ = ("customer", "currency_code", "current", "days_1_30", "days_31_60", "days_61_90", "over_90", "total", "invoice_count")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CURRENT_FIELD_NUMBER: _ClassVar[int]
    DAYS_1_30_FIELD_NUMBER: _ClassVar[int]
    DAYS_31_60_FIELD_NUMBER: _ClassVar[int]
    DAYS_61_90_FIELD_NUMBER: _ClassVar[int]
    OVER_90_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    INVOICE_COUNT_FIELD_NUMBER: _ClassVar[int]
    customer: str
    currency_code: str
    current: _money_pb2.Money
    days_1_30: _money_pb2.Money
    days_31_60: _money_pb2.Money
    days_61_90: _money_pb2.Money
    over_90: _money_pb2.Money
    total: _money_pb2.Money
    invoice_count: int
    def __init__(self, customer: _Optional[str] = ..., currency_code: _Optional[str] = ..., current: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., days_1_30: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., days_31_60: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., days_61_90: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., over_90: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., invoice_count: _Optional[int] = ...) -> None: ...

class GetArAgingResponse(_message.Message):
    __slots__ = ("as_of_time", "rows", "next_page_token")
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    as_of_time: _timestamp_pb2.Timestamp
    rows: _containers.RepeatedCompositeFieldContainer[ArAgingRow]
    next_page_token: str
    def __init__(self, as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[ArAgingRow, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ExportJournalRequest(_message.Message):
    __slots__ = ("period",)
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    period: str
    def __init__(self, period: _Optional[str] = ...) -> None: ...

class ExportJournalChunk(_message.Message):
    __slots__ = ("csv",)
    CSV_FIELD_NUMBER: _ClassVar[int]
    csv: bytes
    def __init__(self, csv: _Optional[bytes] = ...) -> None: ...
