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

class BillingInterval(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BILLING_INTERVAL_UNSPECIFIED: _ClassVar[BillingInterval]
    DAY: _ClassVar[BillingInterval]
    WEEK: _ClassVar[BillingInterval]
    MONTH: _ClassVar[BillingInterval]
    YEAR: _ClassVar[BillingInterval]
BILLING_INTERVAL_UNSPECIFIED: BillingInterval
DAY: BillingInterval
WEEK: BillingInterval
MONTH: BillingInterval
YEAR: BillingInterval

class Product(_message.Message):
    __slots__ = ("name", "display_name", "features", "rule_set", "tax_code")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    features: _containers.RepeatedScalarFieldContainer[str]
    rule_set: str
    tax_code: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., rule_set: _Optional[str] = ..., tax_code: _Optional[str] = ...) -> None: ...

class Plan(_message.Message):
    __slots__ = ("name", "display_name", "product", "interval", "interval_count", "trial_days", "entitlements", "prices", "rule_set")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    PRODUCT_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    ENTITLEMENTS_FIELD_NUMBER: _ClassVar[int]
    PRICES_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    product: str
    interval: BillingInterval
    interval_count: int
    trial_days: int
    entitlements: _containers.RepeatedCompositeFieldContainer[Entitlement]
    prices: _containers.RepeatedCompositeFieldContainer[PlanPrice]
    rule_set: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., product: _Optional[str] = ..., interval: _Optional[_Union[BillingInterval, str]] = ..., interval_count: _Optional[int] = ..., trial_days: _Optional[int] = ..., entitlements: _Optional[_Iterable[_Union[Entitlement, _Mapping]]] = ..., prices: _Optional[_Iterable[_Union[PlanPrice, _Mapping]]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class Entitlement(_message.Message):
    __slots__ = ("feature", "limit")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    feature: str
    limit: int
    def __init__(self, feature: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...

class PlanPrice(_message.Message):
    __slots__ = ("currency_code", "flat_amount", "price", "effective_from", "tax_behavior")
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    TAX_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    currency_code: str
    flat_amount: _money_pb2.Money
    price: str
    effective_from: _timestamp_pb2.Timestamp
    tax_behavior: str
    def __init__(self, currency_code: _Optional[str] = ..., flat_amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., price: _Optional[str] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tax_behavior: _Optional[str] = ...) -> None: ...

class Price(_message.Message):
    __slots__ = ("name", "display_name", "model", "currency_code", "unit", "unit_amount", "tiers", "params", "effective_from", "rule_set", "tax_behavior")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    TIERS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    TAX_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    model: str
    currency_code: str
    unit: str
    unit_amount: str
    tiers: _containers.RepeatedCompositeFieldContainer[PriceTier]
    params: _containers.ScalarMap[str, str]
    effective_from: _timestamp_pb2.Timestamp
    rule_set: str
    tax_behavior: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., model: _Optional[str] = ..., currency_code: _Optional[str] = ..., unit: _Optional[str] = ..., unit_amount: _Optional[str] = ..., tiers: _Optional[_Iterable[_Union[PriceTier, _Mapping]]] = ..., params: _Optional[_Mapping[str, str]] = ..., effective_from: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rule_set: _Optional[str] = ..., tax_behavior: _Optional[str] = ...) -> None: ...

class PriceTier(_message.Message):
    __slots__ = ("up_to", "unit_amount", "flat_amount")
    UP_TO_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    up_to: int
    unit_amount: str
    flat_amount: str
    def __init__(self, up_to: _Optional[int] = ..., unit_amount: _Optional[str] = ..., flat_amount: _Optional[str] = ...) -> None: ...

class ListProductsRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListProductsResponse(_message.Message):
    __slots__ = ("products", "rule_set")
    PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    products: _containers.RepeatedCompositeFieldContainer[Product]
    rule_set: str
    def __init__(self, products: _Optional[_Iterable[_Union[Product, _Mapping]]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class ListPlansRequest(_message.Message):
    __slots__ = ("as_of",)
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ListPlansResponse(_message.Message):
    __slots__ = ("plans", "rule_set")
    PLANS_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    plans: _containers.RepeatedCompositeFieldContainer[Plan]
    rule_set: str
    def __init__(self, plans: _Optional[_Iterable[_Union[Plan, _Mapping]]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class GetPlanRequest(_message.Message):
    __slots__ = ("name", "as_of")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    name: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetPriceRequest(_message.Message):
    __slots__ = ("name", "as_of")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    name: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreviewPriceRequest(_message.Message):
    __slots__ = ("price", "quantity", "as_of")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    price: str
    quantity: str
    as_of: _timestamp_pb2.Timestamp
    def __init__(self, price: _Optional[str] = ..., quantity: _Optional[str] = ..., as_of: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PreviewPriceResponse(_message.Message):
    __slots__ = ("amount", "unrounded_amount", "rounding", "steps", "price", "rule_set")
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    amount: _money_pb2.Money
    unrounded_amount: str
    rounding: str
    steps: _containers.RepeatedCompositeFieldContainer[PricingStep]
    price: Price
    rule_set: str
    def __init__(self, amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., unrounded_amount: _Optional[str] = ..., rounding: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[PricingStep, _Mapping]]] = ..., price: _Optional[_Union[Price, _Mapping]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class PricingStep(_message.Message):
    __slots__ = ("description", "quantity", "unit_amount", "flat_amount", "amount")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FLAT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    description: str
    quantity: str
    unit_amount: str
    flat_amount: str
    amount: str
    def __init__(self, description: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., flat_amount: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...
