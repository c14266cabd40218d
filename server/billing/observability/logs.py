"""Logs in the Elastic Common Schema (ADR 0060): one JSON object a line on stderr, written by
`ecs-logging`, so Filebeat or the Elastic agent ship them without a parsing pipeline.

Each line holds `@timestamp`, `log.level`, `message`, `log.logger`, and, in a call or a due
item, `trace.id` and `span.id` (when tracing is on), `organization.id` (the tenant; ECS's
field for the owner of multi-tenant data), `rpc.service` and `rpc.method`, and
`http.request.id` (the call's `x-request-id`, or the id the edge made for it).

Two filters run on every record before the formatter reads it: `SecretMask` (card numbers,
bearer tokens and JWTs in any text; values under a sensitive key whole) and `CallContext`
(the fields above). The edge refuses requests holding a card number and no code logs a
token on purpose: the mask is the second line of defence, for text that reaches a log
otherwise (an exception quoting a value, a gateway's error message, a header dict).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import ecs_logging
from opentelemetry import trace

from billing.domain.card_numbers import mask_card_numbers
from billing.observability.context import call_method, call_request_id, call_tenant

REDACTED = "[redacted]"
QUIET_LOGGERS = ("sqlalchemy", "aiosqlite")  # at WARNING whatever the level (see below)
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
# Keys whose values are secrets whatever they look like: a header dict, a gateway's
# credentials, a settings mapping. Matched on the key, lower-cased, `-` read as `_`.
_SENSITIVE_KEY = re.compile(
    r"(^|_)(authorization|token|access_token|refresh_token|secret|password|passwd|api_key|"
    r"apikey|credentials?|private_key|client_secret|headers|otlp_headers|cookie|card_number|"
    r"pan|cvc|cvv|encryption_keys?|hs256_secret)$"
)
# A bearer credential in free text, and anything shaped like a JWT (three base64url parts,
# the first two JSON objects: "eyJ"), whoever wrote it.
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{16,}")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")


def mask_text(text: str) -> str:
    if "earer" in text or "EARER" in text:
        text = _BEARER.sub(rf"\1 {REDACTED}", text)
    if "eyJ" in text:
        text = _JWT.sub(REDACTED, text)
    return mask_card_numbers(text)


def sensitive(key: object) -> bool:
    return isinstance(key, str) and bool(_SENSITIVE_KEY.search(key.lower().replace("-", "_")))


def _masked(value: object) -> object:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {_masked(k): REDACTED if sensitive(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_masked(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask_text(str(value))  # what the formatter would write, masked


class SecretMask(logging.Filter):
    """Masks a record before any formatter reads it: the message with its arguments merged
    in, every extra field (whole under a sensitive key), and the exception's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                record.__dict__[key] = REDACTED if sensitive(key) else _masked(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


class CallContext(logging.Filter):
    """Adds the trace, the tenant, the RPC method and the request id of the call (or due
    item) the record was written in; nothing outside one."""

    def filter(self, record: logging.LogRecord) -> bool:
        fields = record.__dict__
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            fields["trace.id"] = format(span.trace_id, "032x")
            fields["span.id"] = format(span.span_id, "016x")
        if tenant := call_tenant.get():
            fields.setdefault("organization.id", tenant)
        if method := call_method.get():
            service, _, rpc = method.strip("/").partition("/")
            fields.setdefault("rpc.service", service)
            fields.setdefault("rpc.method", rpc)
        if request_id := call_request_id.get():
            fields.setdefault("http.request.id", request_id)
        return True


class EcsFormatter(ecs_logging.StdlibFormatter):
    """ecs-logging's formatter, less `log.original` (the message again), with the exception's
    message masked: ecs-logging reads it from the exception, not from the masked text."""

    def __init__(self) -> None:
        super().__init__(exclude_fields=["log.original"])

    def format_to_ecs(self, record: logging.LogRecord) -> dict[str, Any]:
        result: dict[str, Any] = super().format_to_ecs(record)
        error = result.get("error")
        if isinstance(error, dict):
            for key in ("message", "stack_trace"):
                if isinstance(error.get(key), str):
                    error[key] = mask_text(error[key])
        return result


def ecs_handler(stream: TextIO) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EcsFormatter())
    handler.addFilter(SecretMask())
    handler.addFilter(CallContext())
    return handler


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    root = logging.getLogger()
    root.handlers[:] = [ecs_handler(sys.stderr if stream is None else stream)]
    root.setLevel(level.upper())
    # SQLAlchemy logs every statement's parameters at INFO and rows at DEBUG, aiosqlite every
    # operation with its parameters at DEBUG: customers' data in the logs whenever the level is
    # lowered to look at something else. Their warnings stay.
    for chatty in QUIET_LOGGERS:
        logging.getLogger(chatty).setLevel(logging.WARNING)
