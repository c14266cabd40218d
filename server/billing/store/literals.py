"""Client-side binding of the write batch and the opening query (ADR 0071).

Those travel as one simple query (ADR 0018, 0065), so their values are written into the SQL
text as literals. psycopg's `ClientCursor.mogrify` did it: a new adapter context per
statement, a parse of the query's placeholders, a dumper lookup and a C call per value, then
a decode: 15% of a serving process's Python under CreateSubscription. The values these
statements carry are nearly all text, integers, booleans, NULL, UTC instants and JSON, whose
literals are short to write exactly as psycopg writes them (`tests/test_literals.py` holds
the two to the same text, value by value). Any other value goes to psycopg's own adapter.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import psycopg
from psycopg.adapt import Transformer
from psycopg.types.json import Jsonb

_NUL = "PostgreSQL text fields cannot contain NUL (0x00) bytes"  # psycopg's own message


def _text(value: str) -> str:
    if "\x00" in value:
        raise psycopg.DataError(_NUL)
    if "\\" in value:
        # An escape string, as psycopg writes it: the same value whatever
        # standard_conforming_strings says.
        return " E'" + value.replace("\\", "\\\\").replace("'", "''") + "'"
    return "'" + value.replace("'", "''") + "'"


def _integer(value: int) -> str:
    # A leading space keeps `x -%(v)s` from becoming the comment `x --1`.
    return str(value) if value >= 0 else f" {value}"


def _boolean(value: bool) -> str:
    return "true" if value else "false"


def _null(_: None) -> str:
    return "NULL"


# A call writes the same few instants many times (its `now`, the period's bounds) and
# `str(datetime)` costs 20 times a lookup.
_INSTANTS: dict[datetime, str] = {}
_MAX_INSTANTS = 4096


def _instant(value: datetime) -> str | None:
    if value.tzinfo is not UTC:
        return None  # another zone, or none: psycopg's adapter
    literal = _INSTANTS.get(value)
    if literal is None:
        if len(_INSTANTS) >= _MAX_INSTANTS:
            _INSTANTS.clear()
        literal = _INSTANTS[value] = f"'{value}'::timestamptz"
    return literal


def _date(value: date) -> str:
    return f"'{value}'::date"


def _jsonb(value: Jsonb) -> str | None:
    if value.dumps is not None:
        return None  # its own serializer: psycopg's adapter
    return _text(json.dumps(value.obj)) + "::jsonb"


# By exact type: a subclass (a str enum, a bool's int) goes to psycopg, which knows its
# adapter.
_LITERALS: dict[type, Callable[[Any], str | None]] = {
    str: _text,
    int: _integer,
    bool: _boolean,
    type(None): _null,
    datetime: _instant,
    date: _date,
    Jsonb: _jsonb,  # SQLAlchemy's JSONB binds as this
}


class ClientBinding:
    """`binding(sql, values)`: `sql` (SQLAlchemy's psycopg text: `%(name)s` placeholders,
    `%%` for a percent sign) with `values` written in as literals, the text
    `ClientCursor.mogrify` would give. One per query sent; psycopg's adapter context for
    the connection is made only if a value needs it."""

    def __init__(self, connection: psycopg.AsyncConnection[Any] | psycopg.Connection[Any]) -> None:
        self._connection = connection
        self._encoding = connection.info.encoding
        self._adapters: Any = None  # psycopg's Transformer (a C class: no type to name)

    def __call__(self, sql: str, values: Mapping[str, Any]) -> str:
        # `literal`'s lines inlined: a call per value cost 15% more here (5.1 against 5.9 µs
        # for 15 values), on every value of every write.
        literals = _LITERALS
        written: dict[str, str] = {}
        for name, value in values.items():
            write = literals.get(type(value))
            literal = write(value) if write is not None else None
            written[name] = literal if literal is not None else self._psycopg(value)
        return sql % written

    def literal(self, value: Any) -> str:
        """One value as its literal (a prepared statement's argument, ADR 0072)."""
        write = _LITERALS.get(type(value))
        literal = write(value) if write is not None else None
        return literal if literal is not None else self._psycopg(value)

    def _psycopg(self, value: Any) -> str:
        if self._adapters is None:
            self._adapters = Transformer.from_context(self._connection)
        literal: bytes = self._adapters.as_literal(value)
        return literal.decode(self._encoding)
