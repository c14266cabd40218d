"""Limits on what a caller may send, in one place: every value with its unit in the name and
the reason for it. docs/limits.md lists each with what the server does at it.

The per-field exceptions live beside the field in the contract, as `(billing.v1.field)`
options; the values here are the defaults for each kind of field and the bounds the edge and
the use cases share. Pure constants: the domain imports nothing else.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

# --- messages -------------------------------------------------------------------------------
# gRPC's receive and send limit: a 10,000-event usage batch (~2 MB) or a rule set of a few
# large files fits; a runaway payload is refused by gRPC itself (RESOURCE_EXHAUSTED).
MESSAGE_BYTES_MAX: Final = 16 * 1024 * 1024
# HTTP/2 streams one connection may have open at once: a client multiplexing more waits for a
# free stream (gRPC queues it), so one connection cannot hold every slot of a process.
CONCURRENT_STREAMS_PER_CONNECTION_MAX: Final = 128
# Calls a process serves at once, all connections together (setting
# BILLING_MAX_CONCURRENT_RPCS); past it gRPC answers RESOURCE_EXHAUSTED at once rather than
# queueing without bound. The benches run 64 in flight over two processes.
CONCURRENT_RPCS_PER_PROCESS_DEFAULT: Final = 2000

# --- strings (characters, i.e. Unicode code points) -------------------------------------------
# Any string field without its own `max_length`: ids, resource names, codes, request ids,
# etags and page tokens. The longest stored key column is 128 (request ids, event ids).
STRING_CHARS_DEFAULT: Final = 128
# Names people read (display names) and free text with a column of 256 (payment references,
# credit note reasons, postal address parts).
TEXT_CHARS_MAX: Final = 256
# An invoice line's description: its column is String(512).
LINE_DESCRIPTION_CHARS_MAX: Final = 512
# An invoice memo: its column is String(1024).
MEMO_CHARS_MAX: Final = 1024
# RFC 5321 path limit, and the email column.
EMAIL_CHARS_MAX: Final = 254
# A decimal written as text (`unit_amount`, `quantity`, `percent_off`, price overrides): the
# grammar of `money.parse_decimal` and the String(40) quantity/unit columns.
DECIMAL_TEXT_CHARS_MAX: Final = 40
DECIMAL_DIGITS_MAX: Final = 19  # significant digits: any int64 fits; two multiply in 38
DECIMAL_PLACES_MAX: Final = 18

# --- bytes ----------------------------------------------------------------------------------
# Any bytes field without its own `max_length` (none today; a safe floor for new ones).
BYTES_DEFAULT: Final = 1024
# One rule file, and the files in one rule set (the loader's own bounds).
RULE_FILE_BYTES_MAX: Final = 1 << 20
RULE_FILES_MAX: Final = 256
RULE_FILE_NAME_CHARS_MAX: Final = 128  # a plain name: "pricing.yaml"

# --- lists and maps (entries) ---------------------------------------------------------------
# Any repeated or map field without its own `max_items`.
LIST_ITEMS_DEFAULT: Final = 100
# Metadata on a resource: as many keys as a person manages by hand, short keys, values a
# sentence long (the same bounds as Stripe's metadata).
METADATA_KEYS_MAX: Final = 50
METADATA_KEY_CHARS_MAX: Final = 40
METADATA_VALUE_CHARS_MAX: Final = 500
# Scheduled phases of one subscription: each is a plan change to come; more than a couple of
# years of monthly steps is a bug upstream, and each phase is re-read on every renewal.
SUBSCRIPTION_PHASES_MAX: Final = 24
# Tax ids of one customer, and lines of a postal address.
TAX_IDS_MAX: Final = 10
# Tax exemption certificates of one customer (one per jurisdiction and period is the norm; a
# US seller's buyer may hold one per state): a tax id's 64 characters, a certificate id and a
# reason a sentence long (ADR 0031).
TAX_EXEMPTIONS_MAX: Final = 60
TAX_ID_VALUE_CHARS_MAX: Final = 64
TAX_EXEMPTION_CERTIFICATE_CHARS_MAX: Final = 128
TAX_EXEMPTION_REASON_CHARS_MAX: Final = 256
ADDRESS_LINES_MAX: Final = 5
# One-off lines added by hand to one draft invoice: every line is re-read and re-totalled on
# each change, so a draft stays small (an invoice's computed lines are not counted).
ONE_OFF_LINES_PER_INVOICE_MAX: Final = 100
# Events in one IngestUsage call (StreamUsage for larger loads).
USAGE_BATCH_EVENTS_MAX: Final = 10_000
# An invoice echoed back to UpdateInvoice may carry its lines (ignored); bound them loosely.
INVOICE_LINES_MAX: Final = 10_000

# --- amounts and quantities -------------------------------------------------------------------
# Amounts sent by callers, in minor units: 10^15 (10 trillion in a 2-decimal currency) is far
# beyond any invoice and leaves room inside int64/BIGINT (9.2 x 10^18) for sums of many.
AMOUNT_MINOR_MAX: Final = 10**15
# A quantity (seats, units, a usage value): with a unit price of at most 19 significant
# digits the product stays within the 38 digits of MONEY_CONTEXT.
QUANTITY_MAX: Final = Decimal(10) ** 15
QUANTITY_INT_MAX: Final = 10**15

# --- pages ----------------------------------------------------------------------------------
PAGE_SIZE_DEFAULT: Final = 50
PAGE_SIZE_MAX: Final = 1000  # larger asks are served this many; the token gives the rest

# --- instants -------------------------------------------------------------------------------
# Every Timestamp a caller sends lies in [INSTANT_MIN, INSTANT_MAX). Before 1970 nothing was
# billed by this system; year 3000 leaves centuries of renewals before datetime's year 9999,
# so period arithmetic on any accepted instant cannot overflow.
INSTANT_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
INSTANT_MAX: Final = datetime(3000, 1, 1, tzinfo=UTC)
INSTANT_SECONDS_MIN: Final = 0
INSTANT_SECONDS_MAX: Final = 32_503_680_000  # 3000-01-01T00:00:00Z, excluded
NANOS_PER_SECOND: Final = 1_000_000_000

# --- error details ----------------------------------------------------------------------------
# What an error echoes back must fit the caller's metadata limit (gRPC's default: 8 KiB for all
# trailers), or the caller sees RESOURCE_EXHAUSTED instead of the error. The message travels
# percent-encoded (up to 3x) and again inside the details, which travel base64-encoded (4/3x):
# 512 + 3072 bytes stay near 5.6 KiB on the wire at worst.
ECHO_CHARS_MAX: Final = 64  # a value quoted in a message: this many characters, then "…"
VIOLATIONS_MAX: Final = 10  # field violations returned; the rest are counted ("and N more")
VIOLATION_FIELD_CHARS_MAX: Final = 256  # one violation's field path, an ErrorInfo metadata value
VIOLATION_DESCRIPTION_CHARS_MAX: Final = 512  # one violation's description
STATUS_MESSAGE_BYTES_MAX: Final = 512  # the status message, UTF-8
STATUS_DETAILS_BYTES_MAX: Final = 3072  # the serialized google.rpc.Status, before base64


def echo(value: str, limit: int = ECHO_CHARS_MAX) -> str:
    """`value` to quote back to a caller: at most `limit` characters, then "…"."""
    return value if len(value) <= limit else value[:limit] + "…"


def clip_utf8(text: str, limit_bytes: int) -> str:
    """`text` cut to at most `limit_bytes` of UTF-8 (never inside a character), "…" ending a
    cut text."""
    data = text.encode()
    if len(data) <= limit_bytes:
        return text
    return data[: limit_bytes - 3].decode(errors="ignore") + "…"
