import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import subscriptions_pb2 as _subscriptions_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Contract(_message.Message):
    __slots__ = ("name", "deal_id", "customer", "revision", "start_time", "term_periods", "auto_renew", "lines", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    TERM_PERIODS_FIELD_NUMBER: _ClassVar[int]
    AUTO_RENEW_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    deal_id: str
    customer: str
    revision: int
    start_time: _timestamp_pb2.Timestamp
    term_periods: int
    auto_renew: bool
    lines: _containers.RepeatedCompositeFieldContainer[ContractLine]
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., deal_id: _Optional[str] = ..., customer: _Optional[str] = ..., revision: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., term_periods: _Optional[int] = ..., auto_renew: _Optional[bool] = ..., lines: _Optional[_Iterable[_Union[ContractLine, _Mapping]]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ContractLine(_message.Message):
    __slots__ = ("line_id", "plan", "quantities", "price_overrides", "phases", "subscription")
    class QuantitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    class PriceOverridesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LINE_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    PRICE_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    line_id: str
    plan: str
    quantities: _containers.ScalarMap[str, int]
    price_overrides: _containers.ScalarMap[str, str]
    phases: _containers.RepeatedCompositeFieldContainer[_subscriptions_pb2.SubscriptionPhase]
    subscription: str
    def __init__(self, line_id: _Optional[str] = ..., plan: _Optional[str] = ..., quantities: _Optional[_Mapping[str, int]] = ..., price_overrides: _Optional[_Mapping[str, str]] = ..., phases: _Optional[_Iterable[_Union[_subscriptions_pb2.SubscriptionPhase, _Mapping]]] = ..., subscription: _Optional[str] = ...) -> None: ...

class ApplyContractRequest(_message.Message):
    __slots__ = ("contract", "request_id")
    CONTRACT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    contract: Contract
    request_id: str
    def __init__(self, contract: _Optional[_Union[Contract, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetContractRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...
