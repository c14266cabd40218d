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

class PaymentMethodType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_METHOD_TYPE_UNSPECIFIED: _ClassVar[PaymentMethodType]
    CARD: _ClassVar[PaymentMethodType]
    SEPA_DEBIT: _ClassVar[PaymentMethodType]
    ACH_DEBIT: _ClassVar[PaymentMethodType]
    BACS_DEBIT: _ClassVar[PaymentMethodType]
    WALLET: _ClassVar[PaymentMethodType]

class PaymentAttemptStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PAYMENT_ATTEMPT_STATUS_UNSPECIFIED: _ClassVar[PaymentAttemptStatus]
    PENDING: _ClassVar[PaymentAttemptStatus]
    SUCCEEDED: _ClassVar[PaymentAttemptStatus]
    FAILED: _ClassVar[PaymentAttemptStatus]
    REQUIRES_ACTION: _ClassVar[PaymentAttemptStatus]
    UNKNOWN: _ClassVar[PaymentAttemptStatus]

class RefundStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REFUND_STATUS_UNSPECIFIED: _ClassVar[RefundStatus]
    REFUND_PENDING: _ClassVar[RefundStatus]
    REFUND_SUCCEEDED: _ClassVar[RefundStatus]
    REFUND_FAILED: _ClassVar[RefundStatus]
    REFUND_UNKNOWN: _ClassVar[RefundStatus]

class DisputeStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DISPUTE_STATUS_UNSPECIFIED: _ClassVar[DisputeStatus]
    DISPUTE_OPEN: _ClassVar[DisputeStatus]
    DISPUTE_WON: _ClassVar[DisputeStatus]
    DISPUTE_LOST: _ClassVar[DisputeStatus]
PAYMENT_METHOD_TYPE_UNSPECIFIED: PaymentMethodType
CARD: PaymentMethodType
SEPA_DEBIT: PaymentMethodType
ACH_DEBIT: PaymentMethodType
BACS_DEBIT: PaymentMethodType
WALLET: PaymentMethodType
PAYMENT_ATTEMPT_STATUS_UNSPECIFIED: PaymentAttemptStatus
PENDING: PaymentAttemptStatus
SUCCEEDED: PaymentAttemptStatus
FAILED: PaymentAttemptStatus
REQUIRES_ACTION: PaymentAttemptStatus
UNKNOWN: PaymentAttemptStatus
REFUND_STATUS_UNSPECIFIED: RefundStatus
REFUND_PENDING: RefundStatus
REFUND_SUCCEEDED: RefundStatus
REFUND_FAILED: RefundStatus
REFUND_UNKNOWN: RefundStatus
DISPUTE_STATUS_UNSPECIFIED: DisputeStatus
DISPUTE_OPEN: DisputeStatus
DISPUTE_WON: DisputeStatus
DISPUTE_LOST: DisputeStatus

class PaymentMethod(_message.Message):
    __slots__ = ("name", "customer", "gateway", "type", "fingerprint", "brand", "last4", "exp_month", "exp_year", "country", "billing_country", "is_default", "create_time", "detach_time", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    BILLING_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    DETACH_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    gateway: str
    type: PaymentMethodType
    fingerprint: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    country: str
    billing_country: str
    is_default: bool
    create_time: _timestamp_pb2.Timestamp
    detach_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., gateway: _Optional[str] = ..., type: _Optional[_Union[PaymentMethodType, str]] = ..., fingerprint: _Optional[str] = ..., brand: _Optional[str] = ..., last4: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ..., country: _Optional[str] = ..., billing_country: _Optional[str] = ..., is_default: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., detach_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class AttachPaymentMethodRequest(_message.Message):
    __slots__ = ("customer", "gateway", "token", "type", "fingerprint", "brand", "last4", "exp_month", "exp_year", "country", "billing_country", "set_default", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FINGERPRINT_FIELD_NUMBER: _ClassVar[int]
    BRAND_FIELD_NUMBER: _ClassVar[int]
    LAST4_FIELD_NUMBER: _ClassVar[int]
    EXP_MONTH_FIELD_NUMBER: _ClassVar[int]
    EXP_YEAR_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    BILLING_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SET_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: str
    gateway: str
    token: str
    type: PaymentMethodType
    fingerprint: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    country: str
    billing_country: str
    set_default: bool
    request_id: str
    def __init__(self, customer: _Optional[str] = ..., gateway: _Optional[str] = ..., token: _Optional[str] = ..., type: _Optional[_Union[PaymentMethodType, str]] = ..., fingerprint: _Optional[str] = ..., brand: _Optional[str] = ..., last4: _Optional[str] = ..., exp_month: _Optional[int] = ..., exp_year: _Optional[int] = ..., country: _Optional[str] = ..., billing_country: _Optional[str] = ..., set_default: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsRequest(_message.Message):
    __slots__ = ("customer", "include_detached", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DETACHED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    include_detached: bool
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., include_detached: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentMethodsResponse(_message.Message):
    __slots__ = ("payment_methods", "next_page_token")
    PAYMENT_METHODS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_methods: _containers.RepeatedCompositeFieldContainer[PaymentMethod]
    next_page_token: str
    def __init__(self, payment_methods: _Optional[_Iterable[_Union[PaymentMethod, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SetDefaultPaymentMethodRequest(_message.Message):
    __slots__ = ("payment_method", "subscription", "request_id")
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payment_method: str
    subscription: str
    request_id: str
    def __init__(self, payment_method: _Optional[str] = ..., subscription: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DetachPaymentMethodRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PaymentAttempt(_message.Message):
    __slots__ = ("name", "customer", "invoice", "payment_method", "gateway", "amount", "status", "gateway_reference", "decline_code", "failure_message", "action_url", "fraud_outcome", "fraud_reasons", "source", "lookups", "create_time", "update_time", "payment", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    DECLINE_CODE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ACTION_URL_FIELD_NUMBER: _ClassVar[int]
    FRAUD_OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FRAUD_REASONS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    LOOKUPS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    invoice: str
    payment_method: str
    gateway: str
    amount: _money_pb2.Money
    status: PaymentAttemptStatus
    gateway_reference: str
    decline_code: str
    failure_message: str
    action_url: str
    fraud_outcome: str
    fraud_reasons: _containers.RepeatedScalarFieldContainer[str]
    source: str
    lookups: int
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    payment: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., invoice: _Optional[str] = ..., payment_method: _Optional[str] = ..., gateway: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[PaymentAttemptStatus, str]] = ..., gateway_reference: _Optional[str] = ..., decline_code: _Optional[str] = ..., failure_message: _Optional[str] = ..., action_url: _Optional[str] = ..., fraud_outcome: _Optional[str] = ..., fraud_reasons: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ..., lookups: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class PayInvoiceRequest(_message.Message):
    __slots__ = ("invoice", "payment_method", "amount", "request_country", "request_id")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_METHOD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    payment_method: str
    amount: _money_pb2.Money
    request_country: str
    request_id: str
    def __init__(self, invoice: _Optional[str] = ..., payment_method: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., request_country: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetPaymentAttemptRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListPaymentAttemptsRequest(_message.Message):
    __slots__ = ("customer", "invoice", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    invoice: str
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., invoice: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentAttemptsResponse(_message.Message):
    __slots__ = ("payment_attempts", "next_page_token")
    PAYMENT_ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payment_attempts: _containers.RepeatedCompositeFieldContainer[PaymentAttempt]
    next_page_token: str
    def __init__(self, payment_attempts: _Optional[_Iterable[_Union[PaymentAttempt, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class PaymentAllocation(_message.Message):
    __slots__ = ("invoice", "amount")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    amount: _money_pb2.Money
    def __init__(self, invoice: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class Payment(_message.Message):
    __slots__ = ("name", "customer", "amount", "source", "allocations", "to_credit", "payment_attempt", "reference", "method", "refunded", "disputed", "receive_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    TO_CREDIT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFUNDED_FIELD_NUMBER: _ClassVar[int]
    DISPUTED_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    amount: _money_pb2.Money
    source: str
    allocations: _containers.RepeatedCompositeFieldContainer[PaymentAllocation]
    to_credit: _money_pb2.Money
    payment_attempt: str
    reference: str
    method: str
    refunded: _money_pb2.Money
    disputed: _money_pb2.Money
    receive_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., source: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[PaymentAllocation, _Mapping]]] = ..., to_credit: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., payment_attempt: _Optional[str] = ..., reference: _Optional[str] = ..., method: _Optional[str] = ..., refunded: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., disputed: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RecordPaymentRequest(_message.Message):
    __slots__ = ("customer", "amount", "method", "reference", "allocations", "receive_time", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ALLOCATIONS_FIELD_NUMBER: _ClassVar[int]
    RECEIVE_TIME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: str
    amount: _money_pb2.Money
    method: str
    reference: str
    allocations: _containers.RepeatedCompositeFieldContainer[PaymentAllocation]
    receive_time: _timestamp_pb2.Timestamp
    request_id: str
    def __init__(self, customer: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., method: _Optional[str] = ..., reference: _Optional[str] = ..., allocations: _Optional[_Iterable[_Union[PaymentAllocation, _Mapping]]] = ..., receive_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetPaymentRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListPaymentsRequest(_message.Message):
    __slots__ = ("customer", "invoice", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    invoice: str
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., invoice: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPaymentsResponse(_message.Message):
    __slots__ = ("payments", "next_page_token")
    PAYMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    payments: _containers.RepeatedCompositeFieldContainer[Payment]
    next_page_token: str
    def __init__(self, payments: _Optional[_Iterable[_Union[Payment, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class Refund(_message.Message):
    __slots__ = ("name", "payment", "customer", "amount", "status", "reason", "credit_note", "gateway_reference", "failure_message", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREDIT_NOTE_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    payment: str
    customer: str
    amount: _money_pb2.Money
    status: RefundStatus
    reason: str
    credit_note: str
    gateway_reference: str
    failure_message: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., payment: _Optional[str] = ..., customer: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[RefundStatus, str]] = ..., reason: _Optional[str] = ..., credit_note: _Optional[str] = ..., gateway_reference: _Optional[str] = ..., failure_message: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateRefundRequest(_message.Message):
    __slots__ = ("payment", "amount", "reason", "credit_note", "request_id")
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREDIT_NOTE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    payment: str
    amount: _money_pb2.Money
    reason: str
    credit_note: str
    request_id: str
    def __init__(self, payment: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., credit_note: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetRefundRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class Dispute(_message.Message):
    __slots__ = ("name", "payment", "payment_attempt", "customer", "gateway_dispute_id", "amount", "fee", "status", "reason", "open_time", "close_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    GATEWAY_DISPUTE_ID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    FEE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    OPEN_TIME_FIELD_NUMBER: _ClassVar[int]
    CLOSE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    payment: str
    payment_attempt: str
    customer: str
    gateway_dispute_id: str
    amount: _money_pb2.Money
    fee: _money_pb2.Money
    status: DisputeStatus
    reason: str
    open_time: _timestamp_pb2.Timestamp
    close_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., payment: _Optional[str] = ..., payment_attempt: _Optional[str] = ..., customer: _Optional[str] = ..., gateway_dispute_id: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., fee: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., status: _Optional[_Union[DisputeStatus, str]] = ..., reason: _Optional[str] = ..., open_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., close_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDisputeRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListDisputesRequest(_message.Message):
    __slots__ = ("customer", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDisputesResponse(_message.Message):
    __slots__ = ("disputes", "next_page_token")
    DISPUTES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    disputes: _containers.RepeatedCompositeFieldContainer[Dispute]
    next_page_token: str
    def __init__(self, disputes: _Optional[_Iterable[_Union[Dispute, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class HandleGatewayEventRequest(_message.Message):
    __slots__ = ("gateway", "headers", "payload")
    class HeadersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    gateway: str
    headers: _containers.ScalarMap[str, str]
    payload: bytes
    def __init__(self, gateway: _Optional[str] = ..., headers: _Optional[_Mapping[str, str]] = ..., payload: _Optional[bytes] = ...) -> None: ...

class HandleGatewayEventResponse(_message.Message):
    __slots__ = ("event_id", "duplicate", "outcome")
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    event_id: str
    duplicate: bool
    outcome: str
    def __init__(self, event_id: _Optional[str] = ..., duplicate: _Optional[bool] = ..., outcome: _Optional[str] = ...) -> None: ...

class ListGatewaysRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Gateway(_message.Message):
    __slots__ = ("name", "engine", "circuit_state", "consecutive_failures", "retry_time", "has_credentials")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    CIRCUIT_STATE_FIELD_NUMBER: _ClassVar[int]
    CONSECUTIVE_FAILURES_FIELD_NUMBER: _ClassVar[int]
    RETRY_TIME_FIELD_NUMBER: _ClassVar[int]
    HAS_CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    name: str
    engine: str
    circuit_state: str
    consecutive_failures: int
    retry_time: _timestamp_pb2.Timestamp
    has_credentials: bool
    def __init__(self, name: _Optional[str] = ..., engine: _Optional[str] = ..., circuit_state: _Optional[str] = ..., consecutive_failures: _Optional[int] = ..., retry_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., has_credentials: _Optional[bool] = ...) -> None: ...

class ListGatewaysResponse(_message.Message):
    __slots__ = ("gateways",)
    GATEWAYS_FIELD_NUMBER: _ClassVar[int]
    gateways: _containers.RepeatedCompositeFieldContainer[Gateway]
    def __init__(self, gateways: _Optional[_Iterable[_Union[Gateway, _Mapping]]] = ...) -> None: ...

class SetGatewayCredentialsRequest(_message.Message):
    __slots__ = ("gateway", "credentials", "request_id")
    class CredentialsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    gateway: str
    credentials: _containers.ScalarMap[str, str]
    request_id: str
    def __init__(self, gateway: _Optional[str] = ..., credentials: _Optional[_Mapping[str, str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GatewayCredentials(_message.Message):
    __slots__ = ("gateway", "names", "key_id", "update_time")
    GATEWAY_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    gateway: str
    names: _containers.RepeatedScalarFieldContainer[str]
    key_id: str
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, gateway: _Optional[str] = ..., names: _Optional[_Iterable[str]] = ..., key_id: _Optional[str] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
