"""Customers: the plain data, its validation and how an update applies.

Validation collects every violation with its field path, so one response names all problems.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

from billing.domain import limits, regions
from billing.domain.errors import InvalidArgument, Violations
from billing.domain.money import currency_problem
from billing.domain.tax import CustomerType, Exemption, TaxIdStatus
from billing.domain.tax_ids import BadTaxId, check_tax_id

MAX_DISPLAY_NAME = 256
MAX_EMAIL = 254
MAX_TAX_IDS = 10
MAX_METADATA_KEYS = 50  # Stripe's limits, which callers already know
MAX_METADATA_KEY = 40
MAX_METADATA_VALUE = 500
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_REGION_RE = re.compile(r"^[A-Z]{2}$")
_TAX_ID_TYPE_RE = re.compile(r"^[a-z]{2,4}_[a-z]{2,10}$")

DEFAULT_TIME_ZONE = "UTC"
DEFAULT_LOCALE = "en-US"


@dataclass(frozen=True)
class PostalAddress:
    region_code: str = ""  # CLDR region, e.g. "DE"
    postal_code: str = ""
    administrative_area: str = ""
    locality: str = ""
    address_lines: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    organization: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form (stored replies, events, JSON columns)."""
        return {
            "region_code": self.region_code,
            "postal_code": self.postal_code,
            "administrative_area": self.administrative_area,
            "locality": self.locality,
            "address_lines": list(self.address_lines),
            "recipients": list(self.recipients),
            "organization": self.organization,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PostalAddress:
        return cls(
            region_code=data.get("region_code", ""),
            postal_code=data.get("postal_code", ""),
            administrative_area=data.get("administrative_area", ""),
            locality=data.get("locality", ""),
            address_lines=tuple(data.get("address_lines", ())),
            recipients=tuple(data.get("recipients", ())),
            organization=data.get("organization", ""),
        )


@dataclass(frozen=True)
class TaxIdVerification:
    """What is known of a tax id (ADR 0031): its format checked (`format_valid`), or what the
    registry said on `checked_time` (`valid`, `invalid`), or `unknown` with the reason (the
    check is pending, or the registry could not be asked)."""

    status: TaxIdStatus = TaxIdStatus.FORMAT_VALID
    checked_time: datetime | None = None
    registry_name: str = ""
    registry_address: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "checked_time": self.checked_time.isoformat() if self.checked_time else None,
            "registry_name": self.registry_name,
            "registry_address": self.registry_address,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TaxIdVerification:
        if not data:  # stored before verification existed: its format was never checked
            return cls(TaxIdStatus.UNKNOWN, reason="stored before tax ids were checked")
        checked = data.get("checked_time")
        return cls(
            TaxIdStatus(data["status"]),
            datetime.fromisoformat(checked) if checked else None,
            data.get("registry_name", ""),
            data.get("registry_address", ""),
            data.get("reason", ""),
        )


PENDING = "verification pending"
UNCHECKED = "no format check exists for this type"


@dataclass(frozen=True)
class TaxId:
    type: str
    value: str  # the compact form once accepted
    verification: TaxIdVerification = field(default_factory=TaxIdVerification, compare=False)
    country: str = field(default="", compare=False)  # issuing country, from the type or prefix

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "country": self.country,
            "verification": self.verification.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TaxId:
        return cls(
            data["type"],
            data["value"],
            TaxIdVerification.from_dict(data.get("verification")),
            data.get("country", ""),
        )


def exemption_to_dict(exemption: Exemption) -> dict[str, Any]:
    return {
        "jurisdiction": exemption.jurisdiction,
        "reason": exemption.reason,
        "certificate": exemption.certificate,
        "valid_from": exemption.valid_from.isoformat(),
        "valid_until": exemption.valid_until.isoformat() if exemption.valid_until else None,
    }


def exemption_from_dict(data: dict[str, Any]) -> Exemption:
    until = data.get("valid_until")
    return Exemption(
        data["jurisdiction"],
        data["reason"],
        data["certificate"],
        date.fromisoformat(data["valid_from"]),
        date.fromisoformat(until) if until else None,
    )


@dataclass(frozen=True)
class CustomerFields:
    """What a caller may set on a customer."""

    display_name: str
    currency_code: str
    email: str = ""
    time_zone: str = DEFAULT_TIME_ZONE
    locale: str = DEFAULT_LOCALE
    billing_address: PostalAddress = field(default_factory=PostalAddress)
    tax_ids: tuple[TaxId, ...] = ()
    metadata: dict[str, str] = field(default_factory=dict)
    # Day of month (1..31, clamped to the month's end) new monthly and yearly subscriptions
    # without their own anchor are billed on, Kill Bill's account BCD; 0: none.
    bill_cycle_day: int = 0
    customer_type: CustomerType = CustomerType.CONSUMER
    tax_exemptions: tuple[Exemption, ...] = ()


@dataclass(frozen=True)
class Customer:
    id: str
    fields: CustomerFields
    version: int
    create_time: datetime
    update_time: datetime
    clock_id: str | None = None  # a simulation clock, fixed at creation

    @property
    def name(self) -> str:
        return f"customers/{self.id}"

    @property
    def etag(self) -> str:
        return etag_for(self.version)


def etag_for(version: int) -> str:
    return f'W/"{version}"'


# Fields an update mask may name; currency is fixed once the customer exists.
UPDATABLE_FIELDS = frozenset(
    {
        "display_name",
        "email",
        "time_zone",
        "locale",
        "billing_address",
        "tax_ids",
        "metadata",
        "bill_cycle_day",
        "customer_type",
        "tax_exemptions",
    }
)
IMMUTABLE_FIELDS = frozenset({"currency_code"})
OUTPUT_ONLY_FIELDS = frozenset({"name", "create_time", "update_time", "etag", "clock"})


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    """An IANA zone name this machine knows (read once)."""
    return name in _time_zones()


def with_defaults(fields: CustomerFields) -> CustomerFields:
    """Fill the optional fields a caller left empty."""
    return replace(
        fields,
        time_zone=fields.time_zone or DEFAULT_TIME_ZONE,
        locale=fields.locale or DEFAULT_LOCALE,
    )


def validate(
    fields: CustomerFields, prefix: str = "customer", *, tax_id_formats: bool = True
) -> None:
    """Raise InvalidArgument naming every bad field of `fields`. `tax_id_formats`: check each
    tax id's format and checksum (off for an update that leaves the tax ids alone, so a
    number stored before the checks existed does not block other changes)."""
    v = Violations()
    name = fields.display_name.strip()
    if not name:
        v.add(f"{prefix}.display_name", "is required")
    elif len(fields.display_name) > MAX_DISPLAY_NAME:
        v.add(f"{prefix}.display_name", f"must be at most {MAX_DISPLAY_NAME} characters")
    if fields.email and (len(fields.email) > MAX_EMAIL or not _EMAIL_RE.match(fields.email)):
        v.add(f"{prefix}.email", f"{fields.email!r} is not an email address")
    if not fields.currency_code:
        v.add(f"{prefix}.currency_code", "is required (an ISO 4217 code such as USD)")
    elif (problem := currency_problem(fields.currency_code)) is not None:
        v.add(f"{prefix}.currency_code", problem)
    if not is_time_zone(fields.time_zone):
        v.add(f"{prefix}.time_zone", f"{fields.time_zone!r} is not an IANA time zone")
    if not _LOCALE_RE.match(fields.locale):
        v.add(f"{prefix}.locale", f"{fields.locale!r} is not a BCP 47 language tag")
    region = fields.billing_address.region_code
    if region and not _REGION_RE.match(region):
        v.add(f"{prefix}.billing_address.region_code", f"{region!r} is not a CLDR region code")
    if not 0 <= fields.bill_cycle_day <= 31:
        v.add(f"{prefix}.bill_cycle_day", "must be 0 (none) or a day of month 1-31")
    _check_tax_ids(fields.tax_ids, prefix, v, formats=tax_id_formats)
    _check_exemptions(fields.tax_exemptions, prefix, v)
    _check_metadata(fields.metadata, prefix, v)
    _check_nul(fields, prefix, v)
    v.raise_if_any()


def _check_nul(fields: CustomerFields, prefix: str, v: Violations) -> None:
    """NUL in any text: PostgreSQL text cannot hold it (lengths are checked above)."""
    address = fields.billing_address
    texts = {
        "display_name": fields.display_name,
        "email": fields.email,
        **{f"tax_ids[{i}].value": t.value for i, t in enumerate(fields.tax_ids)},
        **{
            f"tax_exemptions[{i}]": f"{e.jurisdiction}{e.reason}{e.certificate}"
            for i, e in enumerate(fields.tax_exemptions)
        },
        **{f"metadata[{k!r}]": f"{k}{value}" for k, value in fields.metadata.items()},
        "billing_address": "".join(
            [
                address.region_code,
                address.postal_code,
                address.administrative_area,
                address.locality,
                address.organization,
                *address.address_lines,
                *address.recipients,
            ]
        ),
    }
    for path, text in texts.items():
        if "\x00" in text:
            v.add(f"{prefix}.{path}", "must not contain NUL characters")


def _check_tax_ids(
    tax_ids: tuple[TaxId, ...], prefix: str, v: Violations, *, formats: bool = True
) -> None:
    if len(tax_ids) > MAX_TAX_IDS:
        v.add(f"{prefix}.tax_ids", f"at most {MAX_TAX_IDS} tax ids")
        return
    seen: set[tuple[str, str]] = set()
    for i, tax_id in enumerate(tax_ids):
        if not _TAX_ID_TYPE_RE.match(tax_id.type):
            v.add(
                f"{prefix}.tax_ids[{i}].type", f"{tax_id.type!r} is not a tax id type like eu_vat"
            )
        path = f"{prefix}.tax_ids[{i}].value"
        if not tax_id.value.strip() or len(tax_id.value) > limits.TAX_ID_VALUE_CHARS_MAX:
            v.add(path, f"must be 1 to {limits.TAX_ID_VALUE_CHARS_MAX} characters")
            continue
        if not formats:
            continue
        try:
            compact = check_tax_id(tax_id.type, tax_id.value).value
        except BadTaxId as bad:
            v.add(path, f"{tax_id.value!r} {bad}")
            continue
        if (tax_id.type, compact) in seen:
            v.add(path, f"{tax_id.value!r} is listed twice")
        seen.add((tax_id.type, compact))


def _check_exemptions(exemptions: tuple[Exemption, ...], prefix: str, v: Violations) -> None:
    if len(exemptions) > limits.TAX_EXEMPTIONS_MAX:
        v.add(f"{prefix}.tax_exemptions", f"at most {limits.TAX_EXEMPTIONS_MAX} exemptions")
        return
    for i, exemption in enumerate(exemptions):
        path = f"{prefix}.tax_exemptions[{i}]"
        code = exemption.jurisdiction
        if not code:
            v.add(f"{path}.jurisdiction", "is required: a country (DE) or subdivision (CA-ON)")
        elif regions.jurisdiction_problem(code) is not None:
            v.add(
                f"{path}.jurisdiction",
                f"{code!r} is not an ISO 3166 country (DE) or country-subdivision (CA-ON) code",
            )
        if not exemption.reason.strip():
            v.add(f"{path}.reason", "is required: why the customer is exempt")
        elif len(exemption.reason) > limits.TAX_EXEMPTION_REASON_CHARS_MAX:
            v.add(
                f"{path}.reason",
                f"must be at most {limits.TAX_EXEMPTION_REASON_CHARS_MAX} characters",
            )
        if len(exemption.certificate) > limits.TAX_EXEMPTION_CERTIFICATE_CHARS_MAX:
            v.add(
                f"{path}.certificate_id",
                f"must be at most {limits.TAX_EXEMPTION_CERTIFICATE_CHARS_MAX} characters",
            )
        if exemption.valid_until is not None and exemption.valid_until <= exemption.valid_from:
            v.add(f"{path}.valid_until", "must be after valid_from (it is exclusive)")


def _check_metadata(metadata: dict[str, str], prefix: str, v: Violations) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        v.add(f"{prefix}.metadata", f"at most {MAX_METADATA_KEYS} keys")
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            v.add(f"{prefix}.metadata", f"key {key!r} must be 1 to {MAX_METADATA_KEY} characters")
        if len(value) > MAX_METADATA_VALUE:
            v.add(f"{prefix}.metadata[{key}]", f"must be at most {MAX_METADATA_VALUE} characters")


def check_update_mask(paths: list[str], prefix: str = "update_mask") -> frozenset[str]:
    """The fields to update, or InvalidArgument naming what the mask may not contain."""
    v = Violations()
    if not paths:
        v.add(prefix, "is required: name the fields to change")
    for path in paths:
        if path in UPDATABLE_FIELDS:
            continue
        if path in IMMUTABLE_FIELDS:
            v.add(prefix, f"{path} cannot be changed once the customer exists")
        elif path in OUTPUT_ONLY_FIELDS:
            v.add(prefix, f"{path} is set by the server")
        elif path == "*":
            v.add(prefix, "'*' is not accepted; name the fields to change")
        else:
            v.add(prefix, f"unknown field {path!r}")
    v.raise_if_any()
    return frozenset(paths)


def apply_update(
    current: CustomerFields,
    changes: CustomerFields,
    mask: frozenset[str],
    verified_types: frozenset[str] = frozenset(),
) -> CustomerFields:
    """The fields after copying the masked ones from `changes`, with defaults refilled and
    tax ids in their compact form (a tax id kept keeps what is known of it)."""
    updates: dict[str, Any] = {name: getattr(changes, name) for name in mask}
    updated = with_defaults(replace(current, **updates))
    validate(updated, tax_id_formats="tax_ids" in mask)
    if "tax_ids" not in mask:
        return updated
    return replace(
        updated, tax_ids=settle_tax_ids(updated.tax_ids, current.tax_ids, verified_types)
    )


def settle_tax_ids(
    tax_ids: tuple[TaxId, ...], before: tuple[TaxId, ...], verified_types: frozenset[str]
) -> tuple[TaxId, ...]:
    """Validated tax ids in compact form, each with its verification: the one it had when
    the same (type, number) was there before; else `format_valid`, or `unknown` while an
    online check of its type is pending, or `unknown` for a type without a format check."""
    known = {(t.type, t.value): t for t in before}
    settled = []
    for tax_id in tax_ids:
        as_stored = known.get((tax_id.type, tax_id.value))
        if as_stored is not None:
            settled.append(as_stored)
            continue
        checked = check_tax_id(tax_id.type, tax_id.value)
        kept = known.get((tax_id.type, checked.value))
        if kept is not None:
            settled.append(kept)
            continue
        if not checked.checked:
            verification = TaxIdVerification(TaxIdStatus.UNKNOWN, reason=UNCHECKED)
        elif tax_id.type in verified_types:
            verification = TaxIdVerification(TaxIdStatus.UNKNOWN, reason=PENDING)
        else:
            verification = TaxIdVerification(TaxIdStatus.FORMAT_VALID)
        settled.append(TaxId(tax_id.type, checked.value, verification, checked.country))
    return tuple(settled)


def tax_ids_to_verify(
    before: tuple[TaxId, ...], after: tuple[TaxId, ...], verified_types: frozenset[str]
) -> tuple[TaxId, ...]:
    """The tax ids of `after` an online check is due for: new or changed, of a checked type."""
    old = {(t.type, t.value) for t in before}
    return tuple(t for t in after if t.type in verified_types and (t.type, t.value) not in old)


def with_verification(
    fields: CustomerFields, tax_id_type: str, value: str, verification: TaxIdVerification
) -> CustomerFields | None:
    """The fields with one tax id's verification replaced; None when the customer no longer
    has that tax id (changed since the check was asked) or nothing changes."""
    tax_ids = list(fields.tax_ids)
    for i, tax_id in enumerate(tax_ids):
        if (tax_id.type, tax_id.value) == (tax_id_type, value):
            known = tax_id.verification
            still_unknown = (
                known.status is verification.status is TaxIdStatus.UNKNOWN
                and known.reason == verification.reason
            )
            if known == verification or still_unknown:
                return None  # a retry that learned nothing new changes nothing
            tax_ids[i] = replace(tax_id, verification=verification)
            return replace(fields, tax_ids=tuple(tax_ids))
    return None


def describe_changes(before: CustomerFields, after: CustomerFields) -> dict[str, Any]:
    """Names of changed fields with old and new values, for the audit trail."""
    changed: dict[str, Any] = {}
    for name in UPDATABLE_FIELDS:
        old, new = getattr(before, name), getattr(after, name)
        if old != new:
            changed[name] = {"from": _plain(old), "to": _plain(new)}
    return changed


def _plain(value: Any) -> Any:
    if isinstance(value, PostalAddress):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(x) for x in value]
    if isinstance(value, TaxId):
        return {"type": value.type, "value": value.value}
    if isinstance(value, Exemption):
        return exemption_to_dict(value)
    if isinstance(value, CustomerType):
        return value.value
    return value


def require_valid_new(
    fields: CustomerFields, verified_types: frozenset[str] = frozenset()
) -> CustomerFields:
    filled = with_defaults(fields)
    validate(filled)
    return replace(filled, tax_ids=settle_tax_ids(filled.tax_ids, (), verified_types))


__all__ = [
    "Customer",
    "CustomerFields",
    "InvalidArgument",
    "PostalAddress",
    "TaxId",
    "TaxIdVerification",
    "apply_update",
    "check_update_mask",
    "describe_changes",
    "etag_for",
    "require_valid_new",
    "validate",
]
