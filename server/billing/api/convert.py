"""Protobuf <-> domain data. No logic beyond the translation itself."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from google.type import date_pb2, postal_address_pb2

from billing.api.validation import timestamp_problem
from billing.domain.customers import (
    Customer,
    CustomerFields,
    PostalAddress,
    TaxId,
    TaxIdVerification,
)
from billing.domain.errors import FieldViolation, InvalidArgument
from billing.domain.tax import CustomerType, Exemption, TaxIdStatus
from billing_client.v1 import customers_pb2


def body_hash(request: Message) -> bytes:
    """SHA-256 of the deterministic serialization with `request_id` cleared."""
    body = type(request)()
    body.CopyFrom(request)
    body.ClearField("request_id")
    return hashlib.sha256(body.SerializeToString(deterministic=True)).digest()


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECONDS_A_DAY = 86_400


def instant(message: timestamp_pb2.Timestamp, present: bool, field: str) -> datetime | None:
    """The one way a request's Timestamp becomes a datetime: None when absent; outside
    [1970-01-01T00:00:00Z, 3000-01-01T00:00:00Z), or with nanos outside [0, 10^9),
    INVALID_ARGUMENT naming `field`. Sub-microsecond nanos are dropped, as ToDatetime does."""
    if not present:
        return None
    seconds, nanos = message.seconds, message.nanos
    why = timestamp_problem(seconds, nanos)
    if why is not None:
        raise InvalidArgument.single(field, why)
    return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)


def timestamp(instant: datetime) -> timestamp_pb2.Timestamp:
    """protobuf's `FromDatetime`, by integer arithmetic on the aware instant: a third of its
    cost (it goes through `utctimetuple` and `calendar.timegm`), and every reply carries some."""
    if instant.tzinfo is None:  # read as UTC, as FromDatetime does
        instant = instant.replace(tzinfo=UTC)
    since = instant - EPOCH
    return timestamp_pb2.Timestamp(
        seconds=since.days * SECONDS_A_DAY + since.seconds, nanos=since.microseconds * 1000
    )


def address_from_proto(msg: postal_address_pb2.PostalAddress) -> PostalAddress:
    return PostalAddress(
        region_code=msg.region_code,
        postal_code=msg.postal_code,
        administrative_area=msg.administrative_area,
        locality=msg.locality,
        address_lines=tuple(msg.address_lines),
        recipients=tuple(msg.recipients),
        organization=msg.organization,
    )


def address_to_proto(address: PostalAddress) -> postal_address_pb2.PostalAddress:
    return postal_address_pb2.PostalAddress(
        region_code=address.region_code,
        postal_code=address.postal_code,
        administrative_area=address.administrative_area,
        locality=address.locality,
        address_lines=list(address.address_lines),
        recipients=list(address.recipients),
        organization=address.organization,
    )


_CUSTOMER_TYPES = {
    customers_pb2.CUSTOMER_TYPE_UNSPECIFIED: CustomerType.CONSUMER,
    customers_pb2.CONSUMER: CustomerType.CONSUMER,
    customers_pb2.BUSINESS: CustomerType.BUSINESS,
}
_CUSTOMER_TYPES_OUT = {
    CustomerType.CONSUMER: customers_pb2.CONSUMER,
    CustomerType.BUSINESS: customers_pb2.BUSINESS,
}
_TAX_ID_STATUSES = {
    TaxIdStatus.VALID: customers_pb2.TaxIdVerification.VALID,
    TaxIdStatus.INVALID: customers_pb2.TaxIdVerification.INVALID,
    TaxIdStatus.UNKNOWN: customers_pb2.TaxIdVerification.UNKNOWN,
    TaxIdStatus.FORMAT_VALID: customers_pb2.TaxIdVerification.FORMAT_VALID,
}


def _customer_type(value: int) -> CustomerType:
    found: CustomerType | None = _CUSTOMER_TYPES.get(value)  # type: ignore[call-overload]
    if found is None:
        raise InvalidArgument.single("customer.customer_type", f"{value} is not a customer type")
    return found


def exemptions_from_proto(
    messages: list[customers_pb2.TaxExemption], prefix: str = "customer.tax_exemptions"
) -> tuple[Exemption, ...]:
    exemptions, problems = [], []
    for i, msg in enumerate(messages):
        path = f"{prefix}[{i}]"
        try:
            valid_from = calendar_date(
                msg.valid_from, msg.HasField("valid_from"), f"{path}.valid_from"
            )
            valid_until = calendar_date(
                msg.valid_until, msg.HasField("valid_until"), f"{path}.valid_until"
            )
        except InvalidArgument as bad:
            problems += bad.violations
            continue
        if valid_from is None:
            problems.append(FieldViolation(f"{path}.valid_from", "is required"))
            continue
        exemptions.append(
            Exemption(msg.jurisdiction, msg.reason, msg.certificate_id, valid_from, valid_until)
        )
    if problems:
        raise InvalidArgument(problems)
    return tuple(exemptions)


def exemption_to_proto(exemption: Exemption) -> customers_pb2.TaxExemption:
    msg = customers_pb2.TaxExemption(
        jurisdiction=exemption.jurisdiction,
        reason=exemption.reason,
        certificate_id=exemption.certificate,
        valid_from=date_message(exemption.valid_from),
    )
    if exemption.valid_until is not None:
        msg.valid_until.CopyFrom(date_message(exemption.valid_until))
    return msg


def tax_id_to_proto(tax_id: TaxId) -> customers_pb2.TaxId:
    return customers_pb2.TaxId(
        type=tax_id.type,
        value=tax_id.value,
        country=tax_id.country,
        verification=verification_to_proto(tax_id.verification),
    )


def verification_to_proto(verification: TaxIdVerification) -> customers_pb2.TaxIdVerification:
    msg = customers_pb2.TaxIdVerification(
        status=_TAX_ID_STATUSES[verification.status],
        registry_name=verification.registry_name,
        registry_address=verification.registry_address,
        reason=verification.reason,
    )
    if verification.checked_time is not None:
        msg.checked_time.CopyFrom(timestamp(verification.checked_time))
    return msg


def customer_fields_from_proto(msg: customers_pb2.Customer) -> CustomerFields:
    return CustomerFields(
        display_name=msg.display_name,
        currency_code=msg.currency_code,
        email=msg.email,
        time_zone=msg.time_zone,
        locale=msg.locale,
        billing_address=address_from_proto(msg.billing_address),
        tax_ids=tuple(TaxId(t.type, t.value) for t in msg.tax_ids),
        metadata=dict(msg.metadata),
        bill_cycle_day=msg.bill_cycle_day,
        customer_type=_customer_type(msg.customer_type),
        tax_exemptions=exemptions_from_proto(list(msg.tax_exemptions)),
    )


def customer_to_proto(customer: Customer) -> customers_pb2.Customer:
    f = customer.fields
    return customers_pb2.Customer(
        name=customer.name,
        display_name=f.display_name,
        email=f.email,
        currency_code=f.currency_code,
        time_zone=f.time_zone,
        locale=f.locale,
        billing_address=address_to_proto(f.billing_address),
        tax_ids=[tax_id_to_proto(t) for t in f.tax_ids],
        metadata=f.metadata,
        create_time=timestamp(customer.create_time),
        update_time=timestamp(customer.update_time),
        etag=customer.etag,
        clock=f"clocks/{customer.clock_id}" if customer.clock_id else "",
        bill_cycle_day=f.bill_cycle_day,
        customer_type=_CUSTOMER_TYPES_OUT[f.customer_type],
        tax_exemptions=[exemption_to_proto(e) for e in f.tax_exemptions],
    )


DATE_RANGE = "must be a valid date in [1970-01-01, 3000-01-01)"


def calendar_date(message: date_pb2.Date, present: bool, field: str) -> date | None:
    """The one way a request's google.type.Date becomes a date: None when absent; a partial
    date (a 0 year, month or day), an impossible one or one outside [1970-01-01,
    3000-01-01) is INVALID_ARGUMENT naming `field`."""
    if not present:
        return None
    try:
        day = date(message.year, message.month, message.day)
    except ValueError:
        raise InvalidArgument.single(field, DATE_RANGE) from None
    if not date(1970, 1, 1) <= day < date(3000, 1, 1):
        raise InvalidArgument.single(field, DATE_RANGE)
    return day


def date_message(day: date) -> date_pb2.Date:
    return date_pb2.Date(year=day.year, month=day.month, day=day.day)
