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

class GetTrialBalanceRequest(_message.Message):
    __slots__ = ("as_of_time", "currency_code")
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    as_of_time: _timestamp_pb2.Timestamp
    currency_code: str
    def __init__(self, as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., currency_code: _Optional[str] = ...) -> None: ...

class TrialBalanceRow(_message.Message):
    __slots__ = ("account", "gl_code", "gl_name", "debits", "credits", "balance")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    GL_CODE_FIELD_NUMBER: _ClassVar[int]
    GL_NAME_FIELD_NUMBER: _ClassVar[int]
    DEBITS_FIELD_NUMBER: _ClassVar[int]
    CREDITS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    account: str
    gl_code: str
    gl_name: str
    debits: _money_pb2.Money
    credits: _money_pb2.Money
    balance: _money_pb2.Money
    def __init__(self, account: _Optional[str] = ..., gl_code: _Optional[str] = ..., gl_name: _Optional[str] = ..., debits: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credits: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., balance: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class GetTrialBalanceResponse(_message.Message):
    __slots__ = ("as_of_time", "rows")
    AS_OF_TIME_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    as_of_time: _timestamp_pb2.Timestamp
    rows: _containers.RepeatedCompositeFieldContainer[TrialBalanceRow]
    def __init__(self, as_of_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[TrialBalanceRow, _Mapping]]] = ...) -> None: ...

class ListJournalEntriesRequest(_message.Message):
    __slots__ = ("period", "source", "kind", "page_size", "page_token")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    period: str
    source: str
    kind: str
    page_size: int
    page_token: str
    def __init__(self, period: _Optional[str] = ..., source: _Optional[str] = ..., kind: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class JournalLine(_message.Message):
    __slots__ = ("account", "debit", "credit", "reporting_debit", "reporting_credit")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    DEBIT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    REPORTING_DEBIT_FIELD_NUMBER: _ClassVar[int]
    REPORTING_CREDIT_FIELD_NUMBER: _ClassVar[int]
    account: str
    debit: _money_pb2.Money
    credit: _money_pb2.Money
    reporting_debit: _money_pb2.Money
    reporting_credit: _money_pb2.Money
    def __init__(self, account: _Optional[str] = ..., debit: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credit: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reporting_debit: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reporting_credit: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class JournalEntry(_message.Message):
    __slots__ = ("name", "kind", "source", "post_time", "period", "currency_code", "customer", "memo", "adjusts", "reporting_currency_code", "lines")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    POST_TIME_FIELD_NUMBER: _ClassVar[int]
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    ADJUSTS_FIELD_NUMBER: _ClassVar[int]
    REPORTING_CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    source: str
    post_time: _timestamp_pb2.Timestamp
    period: str
    currency_code: str
    customer: str
    memo: str
    adjusts: str
    reporting_currency_code: str
    lines: _containers.RepeatedCompositeFieldContainer[JournalLine]
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., source: _Optional[str] = ..., post_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period: _Optional[str] = ..., currency_code: _Optional[str] = ..., customer: _Optional[str] = ..., memo: _Optional[str] = ..., adjusts: _Optional[str] = ..., reporting_currency_code: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[JournalLine, _Mapping]]] = ...) -> None: ...

class ListJournalEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[JournalEntry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[JournalEntry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class VerifyJournalRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyJournalResponse(_message.Message):
    __slots__ = ("ok", "sealed_count", "first_broken_seq", "problem", "waiting_count")
    OK_FIELD_NUMBER: _ClassVar[int]
    SEALED_COUNT_FIELD_NUMBER: _ClassVar[int]
    FIRST_BROKEN_SEQ_FIELD_NUMBER: _ClassVar[int]
    PROBLEM_FIELD_NUMBER: _ClassVar[int]
    WAITING_COUNT_FIELD_NUMBER: _ClassVar[int]
    ok: bool
    sealed_count: int
    first_broken_seq: int
    problem: str
    waiting_count: int
    def __init__(self, ok: _Optional[bool] = ..., sealed_count: _Optional[int] = ..., first_broken_seq: _Optional[int] = ..., problem: _Optional[str] = ..., waiting_count: _Optional[int] = ...) -> None: ...

class ClosePeriodRequest(_message.Message):
    __slots__ = ("period", "request_id")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    period: str
    request_id: str
    def __init__(self, period: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetBooksRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Books(_message.Message):
    __slots__ = ("closed_through", "close_time", "closed_by")
    CLOSED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSED_BY_FIELD_NUMBER: _ClassVar[int]
    closed_through: str
    close_time: _timestamp_pb2.Timestamp
    closed_by: str
    def __init__(self, closed_through: _Optional[str] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., closed_by: _Optional[str] = ...) -> None: ...

class GetRevenueByProductRequest(_message.Message):
    __slots__ = ("start_period", "end_period")
    START_PERIOD_FIELD_NUMBER: _ClassVar[int]
    END_PERIOD_FIELD_NUMBER: _ClassVar[int]
    start_period: str
    end_period: str
    def __init__(self, start_period: _Optional[str] = ..., end_period: _Optional[str] = ...) -> None: ...

class RevenueRow(_message.Message):
    __slots__ = ("period", "product_line", "revenue")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_LINE_FIELD_NUMBER: _ClassVar[int]
    REVENUE_FIELD_NUMBER: _ClassVar[int]
    period: str
    product_line: str
    revenue: _money_pb2.Money
    def __init__(self, period: _Optional[str] = ..., product_line: _Optional[str] = ..., revenue: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class GetRevenueByProductResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[RevenueRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[RevenueRow, _Mapping]]] = ...) -> None: ...

class GetDeferredRevenueRollforwardRequest(_message.Message):
    __slots__ = ("start_period", "end_period")
    START_PERIOD_FIELD_NUMBER: _ClassVar[int]
    END_PERIOD_FIELD_NUMBER: _ClassVar[int]
    start_period: str
    end_period: str
    def __init__(self, start_period: _Optional[str] = ..., end_period: _Optional[str] = ...) -> None: ...

class RollforwardRow(_message.Message):
    __slots__ = ("period", "opening", "billed", "recognized", "closing")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    BILLED_FIELD_NUMBER: _ClassVar[int]
    RECOGNIZED_FIELD_NUMBER: _ClassVar[int]
    CLOSING_FIELD_NUMBER: _ClassVar[int]
    period: str
    opening: _money_pb2.Money
    billed: _money_pb2.Money
    recognized: _money_pb2.Money
    closing: _money_pb2.Money
    def __init__(self, period: _Optional[str] = ..., opening: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., billed: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., recognized: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., closing: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class GetDeferredRevenueRollforwardResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[RollforwardRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[RollforwardRow, _Mapping]]] = ...) -> None: ...

class GetDeferredRevenueWaterfallRequest(_message.Message):
    __slots__ = ("months",)
    MONTHS_FIELD_NUMBER: _ClassVar[int]
    months: int
    def __init__(self, months: _Optional[int] = ...) -> None: ...

class WaterfallRow(_message.Message):
    __slots__ = ("period", "amount")
    PERIOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    period: str
    amount: _money_pb2.Money
    def __init__(self, period: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class GetDeferredRevenueWaterfallResponse(_message.Message):
    __slots__ = ("rows",)
    ROWS_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[WaterfallRow]
    def __init__(self, rows: _Optional[_Iterable[_Union[WaterfallRow, _Mapping]]] = ...) -> None: ...
