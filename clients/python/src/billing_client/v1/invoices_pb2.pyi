import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import due_work_pb2 as _due_work_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from billing_client.v1 import tax_types_pb2 as _tax_types_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import empty_pb2 as _empty_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class InvoiceStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    INVOICE_STATUS_UNSPECIFIED: _ClassVar[InvoiceStatus]
    DRAFT: _ClassVar[InvoiceStatus]
    OPEN: _ClassVar[InvoiceStatus]
    PAID: _ClassVar[InvoiceStatus]
    VOID: _ClassVar[InvoiceStatus]
    UNCOLLECTIBLE: _ClassVar[InvoiceStatus]

class LineKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LINE_KIND_UNSPECIFIED: _ClassVar[LineKind]
    RECURRING: _ClassVar[LineKind]
    PRORATION_CREDIT: _ClassVar[LineKind]
    PRORATION_CHARGE: _ClassVar[LineKind]
    REPAIR: _ClassVar[LineKind]
    ACCOUNT_CREDIT: _ClassVar[LineKind]
    CANCELLATION_CREDIT: _ClassVar[LineKind]
    USAGE: _ClassVar[LineKind]
    DISCOUNT: _ClassVar[LineKind]
    ONE_OFF: _ClassVar[LineKind]
    TAX: _ClassVar[LineKind]
    ROUNDING: _ClassVar[LineKind]
INVOICE_STATUS_UNSPECIFIED: InvoiceStatus
DRAFT: InvoiceStatus
OPEN: InvoiceStatus
PAID: InvoiceStatus
VOID: InvoiceStatus
UNCOLLECTIBLE: InvoiceStatus
LINE_KIND_UNSPECIFIED: LineKind
RECURRING: LineKind
PRORATION_CREDIT: LineKind
PRORATION_CHARGE: LineKind
REPAIR: LineKind
ACCOUNT_CREDIT: LineKind
CANCELLATION_CREDIT: LineKind
USAGE: LineKind
DISCOUNT: LineKind
ONE_OFF: LineKind
TAX: LineKind
ROUNDING: LineKind

class Invoice(_message.Message):
    __slots__ = ("name", "customer", "subscription", "status", "billing_reason", "lines", "total", "credit_applied", "amount_due", "period_start", "period_end", "create_time", "finalize_time", "rule_set", "number", "etag", "memo", "paid_time", "void_time", "payment_reference", "credited", "due_time", "coupon", "subtotal", "tax", "taxes", "tax_notes", "seller_tax_ids", "buyer_tax_ids", "amount_paid", "amount_remaining")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BILLING_REASON_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    CREDIT_APPLIED_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_DUE_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    FINALIZE_TIME_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    PAID_TIME_FIELD_NUMBER: _ClassVar[int]
    VOID_TIME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CREDITED_FIELD_NUMBER: _ClassVar[int]
    DUE_TIME_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    SUBTOTAL_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    TAX_NOTES_FIELD_NUMBER: _ClassVar[int]
    SELLER_TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    BUYER_TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_PAID_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_REMAINING_FIELD_NUMBER: _ClassVar[int]
    name: str
    customer: str
    subscription: str
    status: InvoiceStatus
    billing_reason: str
    lines: _containers.RepeatedCompositeFieldContainer[InvoiceLine]
    total: _money_pb2.Money
    credit_applied: _money_pb2.Money
    amount_due: _money_pb2.Money
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    create_time: _timestamp_pb2.Timestamp
    finalize_time: _timestamp_pb2.Timestamp
    rule_set: str
    number: str
    etag: str
    memo: str
    paid_time: _timestamp_pb2.Timestamp
    void_time: _timestamp_pb2.Timestamp
    payment_reference: str
    credited: _money_pb2.Money
    due_time: _timestamp_pb2.Timestamp
    coupon: str
    subtotal: _money_pb2.Money
    tax: _money_pb2.Money
    taxes: _containers.RepeatedCompositeFieldContainer[_tax_types_pb2.TaxAmount]
    tax_notes: _containers.RepeatedScalarFieldContainer[str]
    seller_tax_ids: _containers.RepeatedScalarFieldContainer[str]
    buyer_tax_ids: _containers.RepeatedScalarFieldContainer[str]
    amount_paid: _money_pb2.Money
    amount_remaining: _money_pb2.Money
    def __init__(self, name: _Optional[str] = ..., customer: _Optional[str] = ..., subscription: _Optional[str] = ..., status: _Optional[_Union[InvoiceStatus, str]] = ..., billing_reason: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[InvoiceLine, _Mapping]]] = ..., total: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., credit_applied: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount_due: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finalize_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., rule_set: _Optional[str] = ..., number: _Optional[str] = ..., etag: _Optional[str] = ..., memo: _Optional[str] = ..., paid_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., void_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., payment_reference: _Optional[str] = ..., credited: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., due_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., coupon: _Optional[str] = ..., subtotal: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., taxes: _Optional[_Iterable[_Union[_tax_types_pb2.TaxAmount, _Mapping]]] = ..., tax_notes: _Optional[_Iterable[str]] = ..., seller_tax_ids: _Optional[_Iterable[str]] = ..., buyer_tax_ids: _Optional[_Iterable[str]] = ..., amount_paid: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., amount_remaining: _Optional[_Union[_money_pb2.Money, _Mapping]] = ...) -> None: ...

class CreditNote(_message.Message):
    __slots__ = ("name", "invoice", "number", "amount", "reason", "applied_to", "create_time", "tax", "taxes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    APPLIED_TO_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    name: str
    invoice: str
    number: str
    amount: _money_pb2.Money
    reason: str
    applied_to: str
    create_time: _timestamp_pb2.Timestamp
    tax: _money_pb2.Money
    taxes: _containers.RepeatedCompositeFieldContainer[_tax_types_pb2.TaxAmount]
    def __init__(self, name: _Optional[str] = ..., invoice: _Optional[str] = ..., number: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., applied_to: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., taxes: _Optional[_Iterable[_Union[_tax_types_pb2.TaxAmount, _Mapping]]] = ...) -> None: ...

class InvoiceLine(_message.Message):
    __slots__ = ("description", "amount", "quantity", "unit_amount", "period_start", "period_end", "proration", "proration_factor", "unrounded_amount", "rule_set", "price", "kind", "line_kind")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    LINE_KIND_FIELD_NUMBER: _ClassVar[int]
    description: str
    amount: _money_pb2.Money
    quantity: str
    unit_amount: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    proration: bool
    proration_factor: str
    unrounded_amount: str
    rule_set: str
    price: str
    kind: str
    line_kind: LineKind
    def __init__(self, description: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., proration: _Optional[bool] = ..., proration_factor: _Optional[str] = ..., unrounded_amount: _Optional[str] = ..., rule_set: _Optional[str] = ..., price: _Optional[str] = ..., kind: _Optional[str] = ..., line_kind: _Optional[_Union[LineKind, str]] = ...) -> None: ...

class GetInvoiceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListInvoicesRequest(_message.Message):
    __slots__ = ("customer", "subscription", "page_size", "page_token")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customer: str
    subscription: str
    page_size: int
    page_token: str
    def __init__(self, customer: _Optional[str] = ..., subscription: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListInvoicesResponse(_message.Message):
    __slots__ = ("invoices", "next_page_token")
    INVOICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    invoices: _containers.RepeatedCompositeFieldContainer[Invoice]
    next_page_token: str
    def __init__(self, invoices: _Optional[_Iterable[_Union[Invoice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CreateInvoiceRequest(_message.Message):
    __slots__ = ("customer", "memo", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    MEMO_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: str
    memo: str
    request_id: str
    def __init__(self, customer: _Optional[str] = ..., memo: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class AddInvoiceLineRequest(_message.Message):
    __slots__ = ("invoice", "description", "quantity", "unit_amount", "request_id", "tax_code")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    description: str
    quantity: str
    unit_amount: str
    request_id: str
    tax_code: str
    def __init__(self, invoice: _Optional[str] = ..., description: _Optional[str] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., request_id: _Optional[str] = ..., tax_code: _Optional[str] = ...) -> None: ...

class DeleteInvoiceRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class FinalizeInvoiceRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class VoidInvoiceRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class MarkUncollectibleRequest(_message.Message):
    __slots__ = ("name", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class MarkPaidRequest(_message.Message):
    __slots__ = ("name", "payment_reference", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PAYMENT_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    payment_reference: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., payment_reference: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCreditNoteRequest(_message.Message):
    __slots__ = ("invoice", "amount", "reason", "request_id")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    amount: _money_pb2.Money
    reason: str
    request_id: str
    def __init__(self, invoice: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ExplainInvoiceRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class InvoiceExplanation(_message.Message):
    __slots__ = ("invoice", "lines")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    lines: _containers.RepeatedCompositeFieldContainer[LineExplanation]
    def __init__(self, invoice: _Optional[str] = ..., lines: _Optional[_Iterable[_Union[LineExplanation, _Mapping]]] = ...) -> None: ...

class LineExplanation(_message.Message):
    __slots__ = ("description", "rule_set", "rule_entry", "proration_factor", "period_start", "period_end", "quantity", "unit_amount", "unrounded_amount", "rounding", "amount", "steps", "kind")
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    RULE_ENTRY_FIELD_NUMBER: _ClassVar[int]
    PRORATION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    PERIOD_START_FIELD_NUMBER: _ClassVar[int]
    PERIOD_END_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNROUNDED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    ROUNDING_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    description: str
    rule_set: str
    rule_entry: str
    proration_factor: str
    period_start: _timestamp_pb2.Timestamp
    period_end: _timestamp_pb2.Timestamp
    quantity: str
    unit_amount: str
    unrounded_amount: str
    rounding: str
    amount: _money_pb2.Money
    steps: _containers.RepeatedScalarFieldContainer[str]
    kind: LineKind
    def __init__(self, description: _Optional[str] = ..., rule_set: _Optional[str] = ..., rule_entry: _Optional[str] = ..., proration_factor: _Optional[str] = ..., period_start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., period_end: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., quantity: _Optional[str] = ..., unit_amount: _Optional[str] = ..., unrounded_amount: _Optional[str] = ..., rounding: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., steps: _Optional[_Iterable[str]] = ..., kind: _Optional[_Union[LineKind, str]] = ...) -> None: ...

class PreviewUpcomingInvoiceRequest(_message.Message):
    __slots__ = ("subscription",)
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    def __init__(self, subscription: _Optional[str] = ...) -> None: ...

class RunBillingRequest(_message.Message):
    __slots__ = ("subscription", "customer", "tenant", "request_id")
    SUBSCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    TENANT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    subscription: str
    customer: str
    tenant: bool
    request_id: str
    def __init__(self, subscription: _Optional[str] = ..., customer: _Optional[str] = ..., tenant: _Optional[bool] = ..., request_id: _Optional[str] = ...) -> None: ...

class RunBillingResponse(_message.Message):
    __slots__ = ("done", "remaining", "last_item", "finished", "parked", "parked_items")
    DONE_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    LAST_ITEM_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    PARKED_ITEMS_FIELD_NUMBER: _ClassVar[int]
    done: int
    remaining: int
    last_item: str
    finished: bool
    parked: int
    parked_items: _containers.RepeatedCompositeFieldContainer[_due_work_pb2.ParkedWork]
    def __init__(self, done: _Optional[int] = ..., remaining: _Optional[int] = ..., last_item: _Optional[str] = ..., finished: _Optional[bool] = ..., parked: _Optional[int] = ..., parked_items: _Optional[_Iterable[_Union[_due_work_pb2.ParkedWork, _Mapping]]] = ...) -> None: ...

class UpdateInvoiceRequest(_message.Message):
    __slots__ = ("invoice", "update_mask", "request_id")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    invoice: Invoice
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, invoice: _Optional[_Union[Invoice, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ApplyCouponRequest(_message.Message):
    __slots__ = ("invoice", "coupon", "request_id")
    INVOICE_FIELD_NUMBER: _ClassVar[int]
    COUPON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    invoice: str
    coupon: str
    request_id: str
    def __init__(self, invoice: _Optional[str] = ..., coupon: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...
