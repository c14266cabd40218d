"""Resource names: `customers/cus_<ULID>`, the last segment a prefixed, sortable id."""

from __future__ import annotations

import re

from billing.domain.errors import InvalidArgument

# Crockford base32 ULID: 26 characters, first one 0-7 (48-bit timestamp).
_ULID = r"[0-7][0-9A-HJKMNP-TV-Z]{25}"
_ID_RE = re.compile(rf"^[a-z]{{2,5}}_{_ULID}$")

COLLECTIONS: dict[str, str] = {
    "customers": "cus",
    "subscriptions": "sub",
    "invoices": "inv",
    "clocks": "clk",
    "creditNotes": "cn",  # a refund names the note it pays out (ADR 0041)
    # Payments (ADR 0034).
    "paymentMethods": "pm",
    "paymentAttempts": "pay",
    "payments": "pmt",
    "refunds": "re",
    "disputes": "dp",
    "dunningCases": "dun",  # ADR 0043
    "dueWork": "due",  # ADR 0058
}


def is_id(value: str, prefix: str) -> bool:
    return value.startswith(prefix + "_") and bool(_ID_RE.match(value))


def resource_name(collection: str, resource_id: str) -> str:
    return f"{collection}/{resource_id}"


def parse_name(name: str, collection: str, field_path: str = "name") -> str:
    """Return the id in `collection/<id>`, or raise InvalidArgument naming `field_path`."""
    prefix = COLLECTIONS[collection]
    head, sep, resource_id = name.partition("/")
    if not name:
        raise InvalidArgument.single(field_path, "is required")
    if head != collection or not sep or not is_id(resource_id, prefix):
        raise InvalidArgument.single(
            field_path, f"must look like {collection}/{prefix}_<ULID>, got {name!r}"
        )
    return resource_id
