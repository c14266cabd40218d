"""The write batch's inserts, prepared once per connection and run on one generic plan
(ADR 0072).

The batch travels as one simple query with its values written in as literals (ADR 0018,
0071), so PostgreSQL parsed, analysed and planned every insert of every call again: over half
of its CPU for CreateSubscription's batch (`perf`: parse 14%, analysis 26%, planning 17%).
Now an insert's shape, the first time a connection sends it, goes as `PREPARE name AS …` at
the head of the same query, and the insert itself as `EXECUTE name(literals)`; after that,
as the `EXECUTE` alone. The query stays one round trip; its statements run in the same order,
with the same results.

Preparing alone saves nothing while the session asks for custom plans (`plan_cache_mode =
force_custom_plan`, `store/engine.py`): each EXECUTE is then planned again, on a copy of the
statement, and costs what the text did. So a query that executes prepared inserts first sets
`plan_cache_mode = force_generic_plan` for the rest of its transaction (`SET LOCAL`; a query
that does not commit sets it back at its end). That is safe only where there is no plan to
choose: only `INSERT … VALUES` statements are prepared (plain, ignoring or updating on a
conflict), never an `INSERT … SELECT`, an update or a read, whose plans the session keeps
custom for the reason given in `store/engine.py`. The batch's CPU in PostgreSQL: 1,730 ->
1,190 µs for CreateSubscription's (measured alone, 600 runs each).

Only inserts whose every parameter has a type of its own are prepared: a cast
(`%(name)s::TYPE`, as SQLAlchemy's psycopg dialect writes a typed bind) or, in a row of
parameters alone, its column. Each parameter's type is then given, not inferred, and the
literal is coerced to it as the cast or the column would have coerced it.

A name is never used again on its connection once a query that carried its `PREPARE`
failed: `PREPARE` is not undone by a rollback, and whether it ran before the failure is not
known, so the name is given up (a few leaked statements per failure, freed with the
connection) rather than guessed at. Like psycopg's own server-side statements, these need a
session of their own (a transaction-pooling proxy in front of PostgreSQL would break both).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from billing.store.pg_connection import ArmedConnection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_DOLLAR = re.compile(r"\$(\d+)")

GENERIC_PLANS = "SET LOCAL plan_cache_mode = force_generic_plan"
CUSTOM_PLANS = "SET LOCAL plan_cache_mode TO DEFAULT"  # the session's (custom plans)

# Statements one connection holds at most (then the rest go as before); a merged insert
# with n rows is a statement of its own for each n up to `MAX_ROWS`.
MAX_STATEMENTS = 512
MAX_ROWS = 32


@dataclass(frozen=True)
class Parametrized:
    """A shape in PostgreSQL's own parameter form: `$1`, `$2`… in place of `%(name)s`."""

    sql: str
    names: tuple[str, ...]  # a row's value for each of its parameters, in order
    rows: int = 1  # a multi-row insert's rows: row r's parameters follow row r-1's


_FORMS: dict[tuple[str, int, bool], Parametrized | None] = {}


def parametrized(
    sql: str, values_at: int = -1, tail: str = "", rows: int = 1, *, one_plan: bool = False
) -> Parametrized | None:
    """`sql` (psycopg's `%(name)s` text) with numbered parameters, or None when a parameter
    carries no type of its own (its type would be inferred, maybe differently from the
    literal's). A name used twice is one parameter. `rows` > 1: `sql` is a single-row
    `INSERT … VALUES (…)` whose row starts at `values_at` and is followed by `tail`, made the
    same insert of `rows` rows. `one_plan`: the caller knows the statement has no plan to
    choose though it is not an `INSERT … VALUES` (the numbered insert, ADR 0070)."""
    key = (sql, rows, one_plan)  # a form made for `one_plan` is not for another caller
    if key in _FORMS:
        return _FORMS[key]
    if len(_FORMS) >= 4 * MAX_STATEMENTS:
        _FORMS.clear()
    preparable = one_plan or _values_insert(sql)
    form = _FORMS[key] = _parametrize(sql, values_at, tail, rows) if preparable else None
    return form


# A plain insert's row whose every value is a parameter, cast or not: `(%(a)s::VARCHAR, %(b)s)`.
_ITEM = r"%\(\w+\)s(?:::[A-Z][A-Z0-9_ ]*(?:\(\d+(?:, \d+)?\))?(?:\[\])?)?"
_BARE_ROW = re.compile(rf"\({_ITEM}(?:, {_ITEM})*\)")


def _shifted(row: str, by: int) -> str:
    """A row's `$n` parameters renumbered `$(n + by)`."""
    return _DOLLAR.sub(lambda match: f"${int(match.group(1)) + by}", row) if by else row


def _values_insert(sql: str) -> bool:
    """An `INSERT … VALUES`: one plan whatever its values (nothing to scan, no index to
    choose), so a generic plan is as good as a custom one."""
    return sql.startswith("INSERT INTO ") and " VALUES (" in sql and "SELECT" not in sql


def _typed(match: re.Match[str], bare_row: bool) -> bool:
    """Whether the parameter's type is given: by its own cast, or, in a plain insert's row of
    parameters alone (`bare_row`), by its column."""
    return bare_row or match.string.startswith("::", match.end())


def _parametrize(sql: str, values_at: int, tail: str, rows: int) -> Parametrized | None:
    numbers: dict[str, int] = {}
    typed = True

    row = sql[values_at : len(sql) - len(tail)] if values_at >= 0 else ""
    bare_row = _BARE_ROW.fullmatch(row) is not None

    def number(match: re.Match[str]) -> str:
        nonlocal typed
        name = match.group(1)
        if name is None:
            return "%"
        if not _typed(match, bare_row):
            typed = False
        if name not in numbers:
            numbers[name] = len(numbers) + 1
        return f"${numbers[name]}"

    if rows == 1 or values_at < 0:
        text = _PLACEHOLDER.sub(number, sql)
    else:  # the head and tail hold no parameters (`batch._values_at`)
        row = _PLACEHOLDER.sub(number, row)
        width = len(numbers)
        copies = [_shifted(row, r * width) for r in range(rows)]
        head, tail = sql[:values_at].replace("%%", "%"), tail.replace("%%", "%")
        text = head + ", ".join(copies) + tail
    if not typed or not numbers:
        return None
    return Parametrized(text, tuple(numbers), rows)


class Preparing:
    """One query's statements on `connection` (psycopg's): `execute` gives each statement's
    text, `prepares` the `PREPARE`s to send ahead of them, `sent` records them as kept once
    the query succeeded."""

    def __init__(self, connection: Any, literal: Callable[[Any], str]) -> None:
        # Only on the server's own connections, which learn when psycopg deallocates every
        # prepared statement (`ArmedConnection`); elsewhere nothing is prepared.
        self._connection = connection if isinstance(connection, ArmedConnection) else None
        self._literal = literal
        self._new: dict[str, str] = {}
        self.prepares: list[str] = []
        self.used = False  # an EXECUTE was given out

    def execute(self, form: Parametrized, rows: Sequence[Mapping[str, Any]]) -> str | None:
        """`EXECUTE name(the rows' values, in the form's order)`, or None when the connection
        holds its fill of statements and this one is not among them."""
        connection = self._connection
        if connection is None:
            return None
        known = connection.batch_statements or {}
        name = known.get(form.sql) or self._new.get(form.sql)
        if name is None:
            if len(known) + len(self._new) >= MAX_STATEMENTS:
                return None
            connection.batch_serial += 1
            name = self._new[form.sql] = f"billing_{connection.batch_serial}"
            self.prepares.append(f"PREPARE {name} AS {form.sql}")
        self.used = True
        literal = self._literal
        names = form.names
        return f"EXECUTE {name}({', '.join([literal(row[n]) for row in rows for n in names])})"

    def sent(self) -> None:
        """The query succeeded: its PREPAREs ran, their names stand for their statements."""
        if self._connection is not None and self._new:
            known = self._connection.batch_statements
            self._connection.batch_statements = {**(known or {}), **self._new}
            self._new = {}
