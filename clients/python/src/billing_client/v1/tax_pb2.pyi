from billing_client.v1 import annotations_pb2 as _annotations_pb2
from billing_client.v1 import customers_pb2 as _customers_pb2
from billing_client.v1 import money_pb2 as _money_pb2
from billing_client.v1 import tax_reports_pb2 as _tax_reports_pb2
from billing_client.v1 import tax_types_pb2 as _tax_types_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QuoteTaxRequest(_message.Message):
    __slots__ = ("customer", "buyer", "lines", "date", "currency_code")
    CUSTOMER_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    LINES_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_CODE_FIELD_NUMBER: _ClassVar[int]
    customer: str
    buyer: QuoteBuyer
    lines: _containers.RepeatedCompositeFieldContainer[QuoteLine]
    date: _date_pb2.Date
    currency_code: str
    def __init__(self, customer: _Optional[str] = ..., buyer: _Optional[_Union[QuoteBuyer, _Mapping]] = ..., lines: _Optional[_Iterable[_Union[QuoteLine, _Mapping]]] = ..., date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., currency_code: _Optional[str] = ...) -> None: ...

class QuoteBuyer(_message.Message):
    __slots__ = ("country", "subdivision", "postal_code", "customer_type", "tax_ids")
    class CustomerType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        CUSTOMER_TYPE_UNSPECIFIED: _ClassVar[QuoteBuyer.CustomerType]
        BUSINESS: _ClassVar[QuoteBuyer.CustomerType]
        CONSUMER: _ClassVar[QuoteBuyer.CustomerType]
    CUSTOMER_TYPE_UNSPECIFIED: QuoteBuyer.CustomerType
    BUSINESS: QuoteBuyer.CustomerType
    CONSUMER: QuoteBuyer.CustomerType
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    SUBDIVISION_FIELD_NUMBER: _ClassVar[int]
    POSTAL_CODE_FIELD_NUMBER: _ClassVar[int]
    CUSTOMER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAX_IDS_FIELD_NUMBER: _ClassVar[int]
    country: str
    subdivision: str
    postal_code: str
    customer_type: QuoteBuyer.CustomerType
    tax_ids: _containers.RepeatedCompositeFieldContainer[_customers_pb2.TaxId]
    def __init__(self, country: _Optional[str] = ..., subdivision: _Optional[str] = ..., postal_code: _Optional[str] = ..., customer_type: _Optional[_Union[QuoteBuyer.CustomerType, str]] = ..., tax_ids: _Optional[_Iterable[_Union[_customers_pb2.TaxId, _Mapping]]] = ...) -> None: ...

class QuoteLine(_message.Message):
    __slots__ = ("plan", "price", "amount", "unit_amount", "quantity", "tax_code", "inclusive")
    PLAN_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    UNIT_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    INCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    plan: str
    price: str
    amount: _money_pb2.Money
    unit_amount: str
    quantity: str
    tax_code: str
    inclusive: bool
    def __init__(self, plan: _Optional[str] = ..., price: _Optional[str] = ..., amount: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., unit_amount: _Optional[str] = ..., quantity: _Optional[str] = ..., tax_code: _Optional[str] = ..., inclusive: _Optional[bool] = ...) -> None: ...

class TaxQuote(_message.Message):
    __slots__ = ("lines", "taxes", "net", "tax", "gross", "notes", "rule_set", "date", "jurisdiction")
    LINES_FIELD_NUMBER: _ClassVar[int]
    TAXES_FIELD_NUMBER: _ClassVar[int]
    NET_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    RULE_SET_FIELD_NUMBER: _ClassVar[int]
    DATE_FIELD_NUMBER: _ClassVar[int]
    JURISDICTION_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[QuotedLine]
    taxes: _containers.RepeatedCompositeFieldContainer[_tax_types_pb2.TaxAmount]
    net: _money_pb2.Money
    tax: _money_pb2.Money
    gross: _money_pb2.Money
    notes: _containers.RepeatedScalarFieldContainer[str]
    rule_set: str
    date: _date_pb2.Date
    jurisdiction: str
    def __init__(self, lines: _Optional[_Iterable[_Union[QuotedLine, _Mapping]]] = ..., taxes: _Optional[_Iterable[_Union[_tax_types_pb2.TaxAmount, _Mapping]]] = ..., net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., gross: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., notes: _Optional[_Iterable[str]] = ..., rule_set: _Optional[str] = ..., date: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., jurisdiction: _Optional[str] = ...) -> None: ...

class QuotedLine(_message.Message):
    __slots__ = ("net", "tax", "gross", "tax_code", "inclusive")
    NET_FIELD_NUMBER: _ClassVar[int]
    TAX_FIELD_NUMBER: _ClassVar[int]
    GROSS_FIELD_NUMBER: _ClassVar[int]
    TAX_CODE_FIELD_NUMBER: _ClassVar[int]
    INCLUSIVE_FIELD_NUMBER: _ClassVar[int]
    net: _money_pb2.Money
    tax: _money_pb2.Money
    gross: _money_pb2.Money
    tax_code: str
    inclusive: bool
    def __init__(self, net: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., gross: _Optional[_Union[_money_pb2.Money, _Mapping]] = ..., tax_code: _Optional[str] = ..., inclusive: _Optional[bool] = ...) -> None: ...
