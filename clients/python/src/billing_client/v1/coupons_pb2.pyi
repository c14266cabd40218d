import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CouponDuration(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COUPON_DURATION_UNSPECIFIED: _ClassVar[CouponDuration]
    ONCE: _ClassVar[CouponDuration]
    REPEATING: _ClassVar[CouponDuration]
    FOREVER: _ClassVar[CouponDuration]
COUPON_DURATION_UNSPECIFIED: CouponDuration
ONCE: CouponDuration
REPEATING: CouponDuration
FOREVER: CouponDuration

class Coupon(_message.Message):
    __slots__ = ("name", "percent_off", "amount_off", "duration", "duration_periods", "applies_to_plans", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PERCENT_OFF_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_OFF_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    DURATION_PERIODS_FIELD_NUMBER: _ClassVar[int]
    APPLIES_TO_PLANS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    percent_off: str
    amount_off: _money_pb2.Money
    duration: CouponDuration
    duration_periods: int
    applies_to_plans: _containers.RepeatedScalarFieldContainer[str]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., percent_off: _Optional[str] = ..., amount_off: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., duration: _Optional[_Union[CouponDuration, str]] = ..., duration_periods: _Optional[int] = ..., applies_to_plans: _Optional[_Iterable[str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCouponRequest(_message.Message):
    __slots__ = ("coupon", "request_id")
    COUPON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    coupon: Coupon
    request_id: str
    def __init__(self, coupon: _Optional[_Union[Coupon, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetCouponRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
