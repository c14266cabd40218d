import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DueWorkState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUE_WORK_STATE_UNSPECIFIED: _ClassVar[DueWorkState]
    DUE_WORK_STATE_PENDING: _ClassVar[DueWorkState]
    DUE_WORK_STATE_RUNNING: _ClassVar[DueWorkState]
    DUE_WORK_STATE_FAILING: _ClassVar[DueWorkState]
    DUE_WORK_STATE_PARKED: _ClassVar[DueWorkState]
    DUE_WORK_STATE_DONE: _ClassVar[DueWorkState]

class DueWorkFilter(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DUE_WORK_FILTER_UNSPECIFIED: _ClassVar[DueWorkFilter]
    DUE_WORK_FILTER_STUCK: _ClassVar[DueWorkFilter]
    DUE_WORK_FILTER_FAILING: _ClassVar[DueWorkFilter]
    DUE_WORK_FILTER_PARKED: _ClassVar[DueWorkFilter]
DUE_WORK_STATE_UNSPECIFIED: DueWorkState
DUE_WORK_STATE_PENDING: DueWorkState
DUE_WORK_STATE_RUNNING: DueWorkState
DUE_WORK_STATE_FAILING: DueWorkState
DUE_WORK_STATE_PARKED: DueWorkState
DUE_WORK_STATE_DONE: DueWorkState
DUE_WORK_FILTER_UNSPECIFIED: DueWorkFilter
DUE_WORK_FILTER_STUCK: DueWorkFilter
DUE_WORK_FILTER_FAILING: DueWorkFilter
DUE_WORK_FILTER_PARKED: DueWorkFilter

class ParkedWork(_message.Message):
    __slots__ = ("id", "kind", "subscription", "due_time", "attempts", "last_error", "park_time")
    ID_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    PARK_TIME_FIELD_NUMBER: _ClassVar[int]
    id: str
    kind: str
    subscription: str
    due_time: _timestamp_pb2.Timestamp
    attempts: int
    last_error: str
    park_time: _timestamp_pb2.Timestamp
    def __init__(self, id: _Optional[str] = ..., kind: _Optional[str] = ..., subscription: _Optional[str] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., park_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class DueWork(_message.Message):
    __slots__ = ("name", "kind", "subject", "state", "due_time", "clock", "attempts", "last_error", "next_attempt_time", "park_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_TIME_FIELD_NUMBER: _ClassVar[int]
    PARK_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    kind: str
    subject: str
    state: DueWorkState
    due_time: _timestamp_pb2.Timestamp
    clock: str
    attempts: int
    last_error: str
    next_attempt_time: _timestamp_pb2.Timestamp
    park_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., kind: _Optional[str] = ..., subject: _Optional[str] = ..., state: _Optional[_Union[DueWorkState, str]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., clock: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., next_attempt_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., park_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListDueWorkRequest(_message.Message):
    __slots__ = ("filter", "kind", "page_size", "page_token")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    filter: DueWorkFilter
    kind: str
    page_size: int
    page_token: str
    def __init__(self, filter: _Optional[_Union[DueWorkFilter, str]] = ..., kind: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDueWorkResponse(_message.Message):
    __slots__ = ("due_work", "next_page_token")
    DUE_WORK_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    due_work: _containers.RepeatedCompositeFieldContainer[DueWork]
    next_page_token: str
    def __init__(self, due_work: _Optional[_Iterable[_Union[DueWork, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RetryDueWorkRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ParkDueWorkRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UnparkDueWorkRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...
