import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import due_work_pb2 as _due_work_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Clock(_message.Message):
    __slots__ = ("name", "now", "display_name", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    now: _timestamp_pb2.Timestamp
    display_name: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., now: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., display_name: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateClockRequest(_message.Message):
    __slots__ = ("clock", "request_id")
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    clock: Clock
    request_id: str
    def __init__(self, clock: _Optional[_Union[Clock, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetClockRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AdvanceClockRequest(_message.Message):
    __slots__ = ("name", "to", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    to: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, name: _Optional[str] = ..., to: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class AdvanceClockResponse(_message.Message):
    __slots__ = ("done", "remaining", "processed_through", "last_item", "finished", "parked", "parked_items")
    DONE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    PROCESSED_THROUGH_FIELD_NUMBER: _ClassVar[int]
    LAST_ITEM_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    PARKED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    done: int
    remaining: int
    processed_through: _timestamp_pb2.Timestamp
    last_item: str
    finished: bool
    parked: int
    parked_items: _containers.RepeatedCompositeFieldContainer[_due_work_pb2.ParkedWork]
    def __init__(self, done: _Optional[int] = ..., remaining: _Optional[int] = ..., processed_through: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_item: _Optional[str] = ..., finished: _Optional[bool] = ..., parked: _Optional[int] = ..., parked_items: _Optional[_Iterable[_Union[_due_work_pb2.ParkedWork, _Mapping]]] = ...) -> None: ...
