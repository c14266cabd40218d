import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DunningCaseStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUNNING_CASE_STATUS_UNSPECIFIED: _ClassVar[DunningCaseStatus]
    DUNNING_CASE_STATUS_ACTIVE: _ClassVar[DunningCaseStatus]
    DUNNING_CASE_STATUS_PAUSED: _ClassVar[DunningCaseStatus]
    DUNNING_CASE_STATUS_RECOVERED: _ClassVar[DunningCaseStatus]
    DUNNING_CASE_STATUS_EXHAUSTED: _ClassVar[DunningCaseStatus]
    DUNNING_CASE_STATUS_CLOSED: _ClassVar[DunningCaseStatus]
DUNNING_CASE_STATUS_UNSPECIFIED: DunningCaseStatus
DUNNING_CASE_STATUS_ACTIVE: DunningCaseStatus
DUNNING_CASE_STATUS_PAUSED: DunningCaseStatus
DUNNING_CASE_STATUS_RECOVERED: DunningCaseStatus
DUNNING_CASE_STATUS_EXHAUSTED: DunningCaseStatus
DUNNING_CASE_STATUS_CLOSED: DunningCaseStatus

class DunningTimelineEntry(_message.Message):
    __slots__ = ("time", "kind", "what", "detail", "payment_attempt")
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    kind: str
    what: str
    detail: str
    payment_attempt: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., what: _Optional[str] = ..., detail: _Optional[str] = ..., payment_attempt: _Optional[str] = ...) -> None: ...

class DunningNextEvent(_message.Message):
    __slots__ = ("time", "kind", "what", "action")
    TIME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    WHAT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    time: _timestamp_pb2.Timestamp
    kind: str
    what: str
    action: str
    def __init__(self, time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., kind: _Optional[str] = ..., what: _Optional[str] = ..., action: _Optional[str] = ...) -> None: ...

class DunningCase(_message.Message):
    __slots__ = ("name", "customer", "invoice", "subscription", "policy", "rule_set", "status", "start_time", "amount", "recovered", "first_decline_code", "decline_code", "retries_stopped", "suspended", "retries_done", "steps_done", "next_event", "timeline", "payment_attempts", "end_time", "etag", "pause_time", "paused_duration")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    FIRST_DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    RETRIES_STOPPED_FIELD_NUMBER: _ClassVar[int]
    SUSPENDED_FIELD_NUMBER: _ClassVar[int]
    RETRIES_DONE_FIELD_NUMBER: _ClassVar[int]
    STEPS_DONE_FIELD_NUMBER: _ClassVar[int]
    NEXT_EVENT_FIELD_NUMBER: _ClassVar[int]
    TIMELINE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    PAUSE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAUSED_DURATION_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    invoice: str
    subscription: str
    policy: str
    rule_set: str
    status: DunningCaseStatus
    start_time: _timestamp_pb2.Timestamp
    amount: _money_pb2.Money
    recovered: _money_pb2.Money
    first_decline_code: str
    decline_code: str
    retries_stopped: bool
    suspended: bool
    retries_done: int
    steps_done: int
    next_event: DunningNextEvent
    timeline: _containers.RepeatedCompositeFieldContainer[DunningTimelineEntry]
    payment_attempts: _containers.RepeatedScalarFieldContainer[str]
    end_time: _timestamp_pb2.Timestamp
    etag: str
    pause_time: _timestamp_pb2.Timestamp
    paused_duration: _duration_pb2.Duration
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., invoice: _Optional[str] = ..., subscription: _Optional[str] = ..., policy: _Optional[str] = ..., rule_set: _Optional[str] = ..., status: _Optional[_Union[DunningCaseStatus, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., recovered: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., first_decline_code: _Optional[str] = ..., decline_code: _Optional[str] = ..., retries_stopped: _Optional[bool] = ..., suspended: _Optional[bool] = ..., retries_done: _Optional[int] = ..., steps_done: _Optional[int] = ..., next_event: _Optional[_Union[DunningNextEvent, _Mapping]] = ..., timeline: _Optional[_Iterable[_Union[DunningTimelineEntry, _Mapping]]] = ..., payment_attempts: _Optional[_Iterable[str]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., pause_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., paused_duration: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class GetDunningCaseRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListDunningCasesRequest(_message.Message):
    __slots__ = ("customer", "status", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    status: DunningCaseStatus
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., status: _Optional[_Union[DunningCaseStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDunningCasesResponse(_message.Message):
    __slots__ = ("dunning_cases", "next_page_token")
    DUNNING_CASES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    dunning_cases: _containers.RepeatedCompositeFieldContainer[DunningCase]
    next_page_token: str
    def __init__(self, dunning_cases: _Optional[_Iterable[_Union[DunningCase, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PauseDunningRequest(_message.Message):
    __slots__ = ("customer", "reason", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: str
    reason: str
    request_id: str
    def __init__(self, customer: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PauseDunningResponse(_message.Message):
    __slots__ = ("customer", "dunning_cases")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    DUNNING_CASES_FIELD_NUMBER: _ClassVar[int]
    customer: str
    dunning_cases: _containers.RepeatedCompositeFieldContainer[DunningCase]
    def __init__(self, customer: _Optional[str] = ..., dunning_cases: _Optional[_Iterable[_Union[DunningCase, _Mapping]]] = ...) -> None: ...

class ResumeDunningRequest(_message.Message):
    __slots__ = ("customer", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: str
    request_id: str
    def __init__(self, customer: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeDunningResponse(_message.Message):
    __slots__ = ("customer", "dunning_cases")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    DUNNING_CASES_FIELD_NUMBER: _ClassVar[int]
    customer: str
    dunning_cases: _containers.RepeatedCompositeFieldContainer[DunningCase]
    def __init__(self, customer: _Optional[str] = ..., dunning_cases: _Optional[_Iterable[_Union[DunningCase, _Mapping]]] = ...) -> None: ...

class GetDunningReportRequest(_message.Message):
    __slots__ = ("start_time", "end_time")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DunningReportRow(_message.Message):
    __slots__ = ("key", "cases", "in_dunning", "recovered", "lost")
    KEY_FIELD_NUMBER: _ClassVar[int]
    CASES_FIELD_NUMBER: _ClassVar[int]
    IN_DUNNING_FIELD_NUMBER: _ClassVar[int]
    RECOVERED_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    key: str
    cases: int
    in_dunning: _money_pb2.Money
    recovered: _money_pb2.Money
    lost: _money_pb2.Money
    def __init__(self, key: _Optional[str] = ..., cases: _Optional[int] = ..., in_dunning: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., recovered: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., lost: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class DunningReport(_message.Message):
    __slots__ = ("totals", "by_step", "by_decline")
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    BY_STEP_FIELD_NUMBER: _ClassVar[int]
    BY_DECLINE_FIELD_NUMBER: _ClassVar[int]
    totals: _containers.RepeatedCompositeFieldContainer[DunningReportRow]
    by_step: _containers.RepeatedCompositeFieldContainer[DunningReportRow]
    by_decline: _containers.RepeatedCompositeFieldContainer[DunningReportRow]
    def __init__(self, totals: _Optional[_Iterable[_Union[DunningReportRow, _Mapping]]] = ..., by_step: _Optional[_Iterable[_Union[DunningReportRow, _Mapping]]] = ..., by_decline: _Optional[_Iterable[_Union[DunningReportRow, _Mapping]]] = ...) -> None: ...
