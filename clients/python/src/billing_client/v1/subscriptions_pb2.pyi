import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import invoices_pb2 as _invoices_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from billing_client.v1 import tax_types_pb2 as _tax_types_pb2
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

class SubscriptionStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SUBSCRIPTION_STATUS_UNSPECIFIED: _ClassVar[SubscriptionStatus]
    TRIALING: _ClassVar[SubscriptionStatus]
    ACTIVE: _ClassVar[SubscriptionStatus]
    PAST_DUE: _ClassVar[SubscriptionStatus]
    PAUSED: _ClassVar[SubscriptionStatus]
    CANCELED: _ClassVar[SubscriptionStatus]
    INCOMPLETE: _ClassVar[SubscriptionStatus]
    UNPAID: _ClassVar[SubscriptionStatus]

class FirstStubProration(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FIRST_STUB_PRORATION_UNSPECIFIED: _ClassVar[FirstStubProration]
    FIRST_STUB_PRORATE: _ClassVar[FirstStubProration]
    FIRST_STUB_NONE: _ClassVar[FirstStubProration]
    FIRST_STUB_FULL: _ClassVar[FirstStubProration]
SUBSCRIPTION_STATUS_UNSPECIFIED: SubscriptionStatus
TRIALING: SubscriptionStatus
ACTIVE: SubscriptionStatus
PAST_DUE: SubscriptionStatus
PAUSED: SubscriptionStatus
CANCELED: SubscriptionStatus
INCOMPLETE: SubscriptionStatus
UNPAID: SubscriptionStatus
FIRST_STUB_PRORATION_UNSPECIFIED: FirstStubProration
FIRST_STUB_PRORATE: FirstStubProration
FIRST_STUB_NONE: FirstStubProration
FIRST_STUB_FULL: FirstStubProration

class Subscription(_message.Message):
    __slots__ = ("name", "customer", "plan", "currency_code", "status", "items", "current_period_start", "current_period_end", "billing_cycle_anchor", "billing_time_zone", "trial_end", "cancel_at", "cancel_at_period_end", "pending_change", "create_time", "etag", "rule_set", "term_end", "auto_renew", "phases", "coupon", "coupon_periods_left", "billing_cycle_anchor_day", "first_stub_proration", "base_subscription")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    CURRENT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    BILLING_TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    TRIAL_END_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PENDING_CHANGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    TERM_END_FIELD_NUMBER: _ClassVar[int]
    AUTO_RENEW_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    COUPON_PERIODS_LEFT_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_DAY_FIELD_NUMBER: _ClassVar[int]
    FIRST_STUB_PRORATION_FIELD_NUMBER: _ClassVar[int]
    BASE_SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    plan: str
    currency_code: str
    status: SubscriptionStatus
    items: _containers.RepeatedCompositeFieldContainer[SubscriptionItem]
    current_period_start: _timestamp_pb2.Timestamp
    current_period_end: _timestamp_pb2.Timestamp
    billing_cycle_anchor: _timestamp_pb2.Timestamp
    billing_time_zone: str
    trial_end: _timestamp_pb2.Timestamp
    cancel_at: _timestamp_pb2.Timestamp
    cancel_at_period_end: bool
    pending_change: PendingChange
    create_time: _timestamp_pb2.Timestamp
    etag: str
    rule_set: str
    term_end: _timestamp_pb2.Timestamp
    auto_renew: bool
    phases: _containers.RepeatedCompositeFieldContainer[SubscriptionPhase]
    coupon: str
    coupon_periods_left: int
    billing_cycle_anchor_day: int
    first_stub_proration: FirstStubProration
    base_subscription: str
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., plan: _Optional[str] = ..., currency_code: _Optional[str] = ..., status: _Optional[_Union[SubscriptionStatus, str]] = ..., items: _Optional[_Iterable[_Union[SubscriptionItem, _Mapping]]] = ..., current_period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., current_period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_cycle_anchor: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_time_zone: _Optional[str] = ..., trial_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancel_at_period_end: _Optional[bool] = ..., pending_change: _Optional[_Union[PendingChange, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., rule_set: _Optional[str] = ..., term_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., auto_renew: _Optional[bool] = ..., phases: _Optional[_Iterable[_Union[SubscriptionPhase, _Mapping]]] = ..., coupon: _Optional[str] = ..., coupon_periods_left: _Optional[int] = ..., billing_cycle_anchor_day: _Optional[int] = ..., first_stub_proration: _Optional[_Union[FirstStubProration, str]] = ..., base_subscription: _Optional[str] = ...) -> None: ...

class SubscriptionItem(_message.Message):
    __slots__ = ("price", "quantity", "unit_amount", "description")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    price: str
    quantity: int
    unit_amount: str
    description: str
    def __init__(self, price: _Optional[str] = ..., quantity: _Optional[int] = ..., unit_amount: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class PendingChange(_message.Message):
    __slots__ = ("plan", "items", "effective_time")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    plan: str
    items: _containers.RepeatedCompositeFieldContainer[SubscriptionItem]
    effective_time: _timestamp_pb2.Timestamp
    def __init__(self, plan: _Optional[str] = ..., items: _Optional[_Iterable[_Union[SubscriptionItem, _Mapping]]] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateSubscriptionRequest(_message.Message):
    __slots__ = ("customer", "plan", "quantities", "price_overrides", "start_time", "billing_cycle_anchor_day", "trial_days", "term_periods", "auto_renew", "request_id", "phases", "coupon", "first_stub_proration", "base_subscription")
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
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    PRICE_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    BILLING_CYCLE_ANCHOR_DAY_FIELD_NUMBER: _ClassVar[int]
    TRIAL_DAYS_FIELD_NUMBER: _ClassVar[int]
    TERM_PERIODS_FIELD_NUMBER: _ClassVar[int]
    AUTO_RENEW_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PHASES_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    FIRST_STUB_PRORATION_FIELD_NUMBER: _ClassVar[int]
    BASE_SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    customer: str
    plan: str
    quantities: _containers.ScalarMap[str, int]
    price_overrides: _containers.ScalarMap[str, str]
    start_time: _timestamp_pb2.Timestamp
    billing_cycle_anchor_day: int
    trial_days: int
    term_periods: int
    auto_renew: bool
    request_id: str
    phases: _containers.RepeatedCompositeFieldContainer[SubscriptionPhase]
    coupon: str
    first_stub_proration: FirstStubProration
    base_subscription: str
    def __init__(self, customer: _Optional[str] = ..., plan: _Optional[str] = ..., quantities: _Optional[_Mapping[str, int]] = ..., price_overrides: _Optional[_Mapping[str, str]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., billing_cycle_anchor_day: _Optional[int] = ..., trial_days: _Optional[int] = ..., term_periods: _Optional[int] = ..., auto_renew: _Optional[bool] = ..., request_id: _Optional[str] = ..., phases: _Optional[_Iterable[_Union[SubscriptionPhase, _Mapping]]] = ..., coupon: _Optional[str] = ..., first_stub_proration: _Optional[_Union[FirstStubProration, str]] = ..., base_subscription: _Optional[str] = ...) -> None: ...

class SubscriptionPhase(_message.Message):
    __slots__ = ("start_period", "plan", "quantities", "price_overrides")
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
    START_PERIOD_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    PRICE_OVERRIDES_FIELD_NUMBER: _ClassVar[int]
    start_period: int
    plan: str
    quantities: _containers.ScalarMap[str, int]
    price_overrides: _containers.ScalarMap[str, str]
    def __init__(self, start_period: _Optional[int] = ..., plan: _Optional[str] = ..., quantities: _Optional[_Mapping[str, int]] = ..., price_overrides: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetSubscriptionRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListSubscriptionsRequest(_message.Message):
    __slots__ = ("customer", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSubscriptionsResponse(_message.Message):
    __slots__ = ("subscriptions", "next_page_token")
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    subscriptions: _containers.RepeatedCompositeFieldContainer[Subscription]
    next_page_token: str
    def __init__(self, subscriptions: _Optional[_Iterable[_Union[Subscription, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SubscriptionChange(_message.Message):
    __slots__ = ("subscription", "plan", "quantities", "proration_time")
    class QuantitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PLAN_FIELD_NUMBER: _ClassVar[int]
    QUANTITIES_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    plan: str
    quantities: _containers.ScalarMap[str, int]
    proration_time: _timestamp_pb2.Timestamp
    def __init__(self, subscription: _Optional[str] = ..., plan: _Optional[str] = ..., quantities: _Optional[_Mapping[str, int]] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ProrationLine(_message.Message):
    __slots__ = ("description", "amount", "proration_factor", "price", "quantity", "period_start", "period_end", "unrounded_amount", "kind")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    description: str
    amount: _money_pb2.Money
    proration_factor: str
    price: str
    quantity: int
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    unrounded_amount: str
    kind: _invoices_pb2.LineKind
    def __init__(self, description: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., proration_factor: _Optional[str] = ..., price: _Optional[str] = ..., quantity: _Optional[int] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., unrounded_amount: _Optional[str] = ..., kind: _Optional[_Union[_invoices_pb2.LineKind, str]] = ...) -> None: ...

class PreviewChangeRequest(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: SubscriptionChange
    def __init__(self, change: _Optional[_Union[SubscriptionChange, _Mapping]] = ...) -> None: ...

class PreviewChangeResponse(_message.Message):
    __slots__ = ("lines", "proration_time", "at_period_end", "proration_behavior", "rule_set", "tax", "taxes", "tax_notes")
    LINES_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PRORATION_BEHAVIOR_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    TAX_NOTES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[ProrationLine]
    proration_time: _timestamp_pb2.Timestamp
    at_period_end: bool
    proration_behavior: str
    rule_set: str
    tax: _money_pb2.Money
    taxes: _containers.RepeatedCompositeFieldContainer[_tax_types_pb2.TaxAmount]
    tax_notes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, lines: _Optional[_Iterable[_Union[ProrationLine, _Mapping]]] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., at_period_end: _Optional[bool] = ..., proration_behavior: _Optional[str] = ..., rule_set: _Optional[str] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., taxes: _Optional[_Iterable[_Union[_tax_types_pb2.TaxAmount, _Mapping]]] = ..., tax_notes: _Optional[_Iterable[str]] = ...) -> None: ...

class ChangeSubscriptionRequest(_message.Message):
    __slots__ = ("change", "etag", "request_id")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    change: SubscriptionChange
    etag: str
    request_id: str
    def __init__(self, change: _Optional[_Union[SubscriptionChange, _Mapping]] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ChangeSubscriptionResponse(_message.Message):
    __slots__ = ("subscription", "lines", "invoice", "proration_time")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PRORATION_TIME_FIELD_NUMBER: _ClassVar[int]
    subscription: Subscription
    lines: _containers.RepeatedCompositeFieldContainer[ProrationLine]
    invoice: str
    proration_time: _timestamp_pb2.Timestamp
    def __init__(self, subscription: _Optional[_Union[Subscription, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[ProrationLine, _Mapping]]] = ..., invoice: _Optional[str] = ..., proration_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CancelSubscriptionRequest(_message.Message):
    __slots__ = ("name", "immediately", "at_period_end", "at", "etag", "request_id", "reason_code", "feedback")
    NAME_FIELD_NUMBER: _ClassVar[int]
    IMMEDIATELY_FIELD_NUMBER: _ClassVar[int]
    AT_PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    name: str
    immediately: bool
    at_period_end: bool
    at: _timestamp_pb2.Timestamp
    etag: str
    request_id: str
    reason_code: str
    feedback: str
    def __init__(self, name: _Optional[str] = ..., immediately: _Optional[bool] = ..., at_period_end: _Optional[bool] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., feedback: _Optional[str] = ...) -> None: ...

class ListCancellationsRequest(_message.Message):
    __slots__ = ("start_time", "end_time", "reason_code", "page_size", "page_token")
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    reason_code: str
    page_size: int
    page_token: str
    def __init__(self, start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., reason_code: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCancellationsResponse(_message.Message):
    __slots__ = ("cancellations", "next_page_token", "counts_by_reason")
    class CountsByReasonEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    CANCELLATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    COUNTS_BY_REASON_FIELD_NUMBER: _ClassVar[int]
    cancellations: _containers.RepeatedCompositeFieldContainer[Cancellation]
    next_page_token: str
    counts_by_reason: _containers.ScalarMap[str, int]
    def __init__(self, cancellations: _Optional[_Iterable[_Union[Cancellation, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., counts_by_reason: _Optional[_Mapping[str, int]] = ...) -> None: ...

class Cancellation(_message.Message):
    __slots__ = ("subscription", "customer", "reason_code", "feedback", "mode", "request_time", "effective_time", "mrr", "withdraw_time")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    FEEDBACK_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_TIME_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    MRR_FIELD_NUMBER: _ClassVar[int]
    WITHDRAW_TIME_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    customer: str
    reason_code: str
    feedback: str
    mode: str
    request_time: _timestamp_pb2.Timestamp
    effective_time: _timestamp_pb2.Timestamp
    mrr: _money_pb2.Money
    withdraw_time: _timestamp_pb2.Timestamp
    def __init__(self, subscription: _Optional[str] = ..., customer: _Optional[str] = ..., reason_code: _Optional[str] = ..., feedback: _Optional[str] = ..., mode: _Optional[str] = ..., request_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., effective_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., mrr: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., withdraw_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ReactivateSubscriptionRequest(_message.Message):
    __slots__ = ("name", "etag", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PauseSubscriptionRequest(_message.Message):
    __slots__ = ("name", "etag", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ResumeSubscriptionRequest(_message.Message):
    __slots__ = ("name", "etag", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListEntitlementsRequest(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    def __init__(self, subscription: _Optional[str] = ...) -> None: ...

class ListEntitlementsResponse(_message.Message):
    __slots__ = ("features", "rule_set")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[GrantedFeature]
    rule_set: str
    def __init__(self, features: _Optional[_Iterable[_Union[GrantedFeature, _Mapping]]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class GetEntitlementsRequest(_message.Message):
    __slots__ = ("customer",)
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    customer: str
    def __init__(self, customer: _Optional[str] = ...) -> None: ...

class GetEntitlementsResponse(_message.Message):
    __slots__ = ("features", "rule_set")
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[CustomerFeature]
    rule_set: str
    def __init__(self, features: _Optional[_Iterable[_Union[CustomerFeature, _Mapping]]] = ..., rule_set: _Optional[str] = ...) -> None: ...

class CustomerFeature(_message.Message):
    __slots__ = ("feature", "limit", "subscriptions")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTIONS_FIELD_NUMBER: _ClassVar[int]
    feature: str
    limit: int
    subscriptions: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, feature: _Optional[str] = ..., limit: _Optional[int] = ..., subscriptions: _Optional[_Iterable[str]] = ...) -> None: ...

class GrantedFeature(_message.Message):
    __slots__ = ("feature", "limit")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    feature: str
    limit: int
    def __init__(self, feature: _Optional[str] = ..., limit: _Optional[int] = ...) -> None: ...
