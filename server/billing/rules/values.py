"""Scalar kinds the rule schemas use beyond YAML's own: codes, decimals and UTC instants."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from billing.domain.money import parse_decimal

# Codes are identifiers that end up in ids, URLs and invoices: short and unambiguous.
CODE_LENGTH_MAX = 64
CODE_PATTERN = rf"^[A-Za-z0-9][A-Za-z0-9_.-]{{0,{CODE_LENGTH_MAX - 1}}}$"
# A decimal written as text: "30.00", "0.0004", "-1.5" (the grammar of `parse_decimal`: no
# exponent, '+', '_', blanks, bare point, NaN or Infinity).
DECIMAL_PATTERN = r"^-?[0-9]+(?:\.[0-9]+)?$"
NON_NEGATIVE_DECIMAL_PATTERN = r"^[0-9]+(?:\.[0-9]+)?$"
# An instant must say which instant: a date and time with `Z` or an explicit offset.
INSTANT_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})$"
)
# A calendar day, as tax law states rates: 2024-01-01.
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"

# A span of time as people write it in rules: 30s, 10m, 1h, 7d (one unit, whole numbers).
DURATION_PATTERN = r"^[0-9]{1,9}[smhd]$"
_DURATION_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}

_INSTANT = re.compile(INSTANT_PATTERN)
_DURATION = re.compile(DURATION_PATTERN)
_DATE = re.compile(DATE_PATTERN)


def parse_instant(text: str) -> datetime:
    """'2024-01-01T00:00:00Z' or '...+01:00' -> an aware datetime in UTC; ValueError otherwise."""
    if not _INSTANT.match(text):
        raise ValueError(f"{text!r} is not an instant with Z or an offset")
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def coerce_decimal(value: object) -> object:
    """Decimal for a decimal string or an integer (the loader bounds both); anything else,
    " 5 " and "1_000" included, is returned for the type check to report."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return parse_decimal(value)
        except ValueError:
            return value
    return value


def coerce_instant(value: object) -> object:
    """An aware UTC datetime for an instant string; anything else is returned for the type check."""
    if isinstance(value, str):
        try:
            return parse_instant(value)
        except ValueError:
            return value
    return value


def coerce_date(value: object) -> object:
    """A date for '2024-01-01' (a real day); anything else is returned for the type check."""
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def coerce_duration(value: object) -> object:
    """A timedelta for '30s', '10m', '1h' or '7d'; anything else is returned for the type
    check. Zero parses (the meaning pass says why a window of 0s is refused)."""
    if isinstance(value, str) and _DURATION.match(value):
        return timedelta(**{_DURATION_UNITS[value[-1]]: int(value[:-1])})
    return value


def describe(value: object) -> str:
    """A value as a finance reader would recognise it in an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal | int):
        return str(value)
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
