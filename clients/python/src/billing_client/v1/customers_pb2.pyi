import datetime

from billing_client.v1 import annotations_pb2 as _annotations_pb2
from google.api import client_pb2 as _client_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.type import postal_address_pb2 as _postal_address_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CustomerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CUSTOMER_TYPE_UNSPECIFIED: _ClassVar[CustomerType]
    CONSUMER: _ClassVar[CustomerType]
    BUSINESS: _ClassVar[CustomerType]
CUSTOMER_TYPE_UNSPECIFIED: CustomerType
CONSUMER: CustomerType
BUSINESS: CustomerType

class Customer(_message.Message):
    __slots__ = ("name", "display_name", "email", "currency_code", "time_zone", "locale", "billing_address", "tax_ids", "metadata", "create_time", "update_time", "etag", "clock", "bill_cycle_day", "customer_type", "tax_exemptions")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    TIME_ZONE_FIELD_NUMBER: _ClassVar[int]
    LOCALE_FIELD_NUMBER: _ClassVar[int]
    BILLING_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CLOCK_FIELD_NUMBER: _ClassVar[int]
    BILL_CYCLE_DAY_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAX_EXEMPTIONS_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    email: str
    currency_code: str
    time_zone: str
    locale: str
    billing_address: _postal_address_pb2.PostalAddress
    tax_ids: _containers.RepeatedCompositeFieldContainer[TaxId]
    metadata: _containers.ScalarMap[str, str]
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    clock: str
    bill_cycle_day: int
    customer_type: CustomerType
    tax_exemptions: _containers.RepeatedCompositeFieldContainer[TaxExemption]
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., email: _Optional[str] = ..., currency_code: _Optional[str] = ..., time_zone: _Optional[str] = ..., locale: _Optional[str] = ..., billing_address: _Optional[_Union[_postal_address_pb2.PostalAddress, _Mapping]] = ..., tax_ids: _Optional[_Iterable[_Union[TaxId, _Mapping]]] = ..., metadata: _Optional[_Mapping[str, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., clock: _Optional[str] = ..., bill_cycle_day: _Optional[int] = ..., customer_type: _Optional[_Union[CustomerType, str]] = ..., tax_exemptions: _Optional[_Iterable[_Union[TaxExemption, _Mapping]]] = ...) -> None: ...

class TaxId(_message.Message):
    __slots__ = ("type", "value", "verification", "country")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    VERIFICATION_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    type: str
    value: str
    verification: TaxIdVerification
    country: str
    def __init__(self, type: _Optional[str] = ..., value: _Optional[str] = ..., verification: _Optional[_Union[TaxIdVerification, _Mapping]] = ..., country: _Optional[str] = ...) -> None: ...

class TaxIdVerification(_message.Message):
    __slots__ = ("status", "checked_time", "registry_name", "registry_address", "reason")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[TaxIdVerification.Status]
        VALID: _ClassVar[TaxIdVerification.Status]
        INVALID: _ClassVar[TaxIdVerification.Status]
        UNKNOWN: _ClassVar[TaxIdVerification.Status]
        FORMAT_VALID: _ClassVar[TaxIdVerification.Status]
    STATUS_UNSPECIFIED: TaxIdVerification.Status
    VALID: TaxIdVerification.Status
    INVALID: TaxIdVerification.Status
    UNKNOWN: TaxIdVerification.Status
    FORMAT_VALID: TaxIdVerification.Status
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CHECKED_TIME_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_NAME_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_ADDRESS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    status: TaxIdVerification.Status
    checked_time: _timestamp_pb2.Timestamp
    registry_name: str
    registry_address: str
    reason: str
    def __init__(self, status: _Optional[_Union[TaxIdVerification.Status, str]] = ..., checked_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., registry_name: _Optional[str] = ..., registry_address: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class TaxExemption(_message.Message):
    __slots__ = ("jurisdiction", "reason", "certificate_id", "valid_from", "valid_until")
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CERTIFICATE_ID_FIELD_NUMBER: _ClassVar[int]
    VALID_FROM_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    jurisdiction: str
    reason: str
    certificate_id: str
    valid_from: _date_pb2.Date
    valid_until: _date_pb2.Date
    def __init__(self, jurisdiction: _Optional[str] = ..., reason: _Optional[str] = ..., certificate_id: _Optional[str] = ..., valid_from: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., valid_until: _Optional[_Union[_date_pb2.Date, _Mapping]] = ...) -> None: ...

class CreateCustomerRequest(_message.Message):
    __slots__ = ("customer", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    request_id: str
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetCustomerRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListCustomersRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListCustomersResponse(_message.Message):
    __slots__ = ("customers", "next_page_token")
    CUSTOMERS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    customers: _containers.RepeatedCompositeFieldContainer[Customer]
    next_page_token: str
    def __init__(self, customers: _Optional[_Iterable[_Union[Customer, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCustomerRequest(_message.Message):
    __slots__ = ("customer", "update_mask", "request_id")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    customer: Customer
    update_mask: _field_mask_pb2.FieldMask
    request_id: str
    def __init__(self, customer: _Optional[_Union[Customer, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...
