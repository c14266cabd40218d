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

class GetMrrRequest(_message.Message):
    __slots__ = ("as_of_time",)
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    as_of_time: _timestamp_pb2.Timestamp
    def __init__(self, as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MrrRow(_message.Message):
    __slots__ = ("mrr", "arr")
    MRR_FIELD_NUMBER: _ClassVar[int]
    ARR_FIELD_NUMBER: _ClassVar[int]
    mrr: _money_pb2.Money
    arr: _money_pb2.Money
    def __init__(self, mrr: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., arr: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class GetMrrResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[MrrRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[MrrRow, _Mapping]]] = ...) -> None: ...

class GetMrrMovementsRequest(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class MrrMovementRow(_message.Message):
    __slots__ = ("kind", "amount", "count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    amount: _money_pb2.Money
    count: int
    def __init__(self, kind: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., count: _Optional[int] = ...) -> None: ...

class GetMrrMovementsResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[MrrMovementRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[MrrMovementRow, _Mapping]]] = ...) -> None: ...

class GetChurnRequest(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ChurnRow(_message.Message):
    __slots__ = ("currency_code", "customers_at_start", "customers_churned", "logo_churn", "mrr_at_start", "mrr_lost", "revenue_churn")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_AT_START_FIELD_NUMBER: _ClassVar[int]
    CUSTOMERS_CHURNED_FIELD_NUMBER: _ClassVar[int]
    LOGO_CHURN_FIELD_NUMBER: _ClassVar[int]
    MRR_AT_START_FIELD_NUMBER: _ClassVar[int]
    MRR_LOST_FIELD_NUMBER: _ClassVar[int]
    REVENUE_CHURN_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    customers_at_start: int
    customers_churned: int
    logo_churn: str
    mrr_at_start: _money_pb2.Money
    mrr_lost: _money_pb2.Money
    revenue_churn: str
    def __init__(self, currency_code: _Optional[str] = ..., customers_at_start: _Optional[int] = ..., customers_churned: _Optional[int] = ..., logo_churn: _Optional[str] = ..., mrr_at_start: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., mrr_lost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., revenue_churn: _Optional[str] = ...) -> None: ...

class GetChurnResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[ChurnRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[ChurnRow, _Mapping]]] = ...) -> None: ...
