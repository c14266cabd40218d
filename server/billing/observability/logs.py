"""Structured JSON logs on stderr: one object a line, with the exception trace if any.

Every record passes `CardNumberMask` first (ADR 0039): a card number in the message, its
arguments or an extra field is masked to its last four digits. The edge refuses requests
holding one, so this is the second line of defence, for text that reaches a log otherwise
(an exception quoting a value, a gateway's error message).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from billing.domain.card_numbers import mask_card_numbers

_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def _masked(value: object) -> object:
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, dict):
        return {_masked(k): _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_masked(v) for v in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return mask_card_numbers(str(value))  # what the formatter would write, masked


class CardNumberMask(logging.Filter):
    """Masks card numbers in a record before any formatter reads it: the message with its
    arguments merged in, every extra field, and the exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_card_numbers(message)
        if masked != message or record.args:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD:
                record.__dict__[key] = _masked(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_card_numbers(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_text:
            entry["exception"] = record.exc_text
        elif record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(CardNumberMask())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
