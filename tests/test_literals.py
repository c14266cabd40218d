"""The write batch's literals (ADR 0071) are the text psycopg's `ClientCursor.mogrify` writes,
value by value, and PostgreSQL reads back the value that was bound."""

from __future__ import annotations

import enum
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from billing.store.literals import ClientBinding
from conftest import PG_ADMIN_DSN

SQL = "SELECT %(value)s AS value, '100%%' AS percent, %(other)s::VARCHAR AS other"


class Kind(enum.StrEnum):
    FEE = "fee"


@pytest.fixture(scope="module")
def connection() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as connection:
        yield connection


def both(connection: psycopg.Connection[Any], value: Any) -> tuple[str, str]:
    values = {"value": value, "other": "x"}
    ours = ClientBinding(connection)(SQL, values)
    return ours, psycopg.ClientCursor(connection).mogrify(SQL, values)


EDGES: list[Any] = [
    "",
    "plain",
    "it's",
    "''",
    "back\\slash",
    "\\'",
    "E'x'",
    "%(value)s",
    "100%",
    "ñ€😀 — ü",
    "line\nbreak\ttab\r",
    "--",
    ";",
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    2**80,
    True,
    False,
    None,
    datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
    datetime(2026, 3, 1, 9, 30, 0, 123456, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    date(2026, 2, 28),
    date(1, 1, 1),
    Jsonb({"a": "it's", "b": [1, None]}),
    Jsonb({"a": "ñ", "b": 'x"y\\z', "c": 1.5}),
    Jsonb(None),
    Jsonb([]),
    # psycopg's own adapter writes these:
    Jsonb({"a": 1}, dumps=lambda obj: json.dumps(obj, separators=(",", ":"))),
    datetime(2026, 3, 1, 9, 30),
    datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Europe/Paris")),
    Decimal("-1.50"),
    Kind.FEE,
    b"\x00bytes",
]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_a_literal_is_written_as_psycopg_writes_it(
    connection: psycopg.Connection[Any], value: Any
) -> None:
    ours, theirs = both(connection, value)
    assert ours == theirs


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_postgresql_reads_back_the_bound_value(
    connection: psycopg.Connection[Any], value: Any
) -> None:
    ours, _ = both(connection, value)
    with connection.cursor() as cursor:
        row = cursor.execute(ours).fetchone()
    assert row is not None
    read = row[0]
    if isinstance(value, Jsonb):
        assert read == value.obj
    elif isinstance(value, datetime) and value.tzinfo is not None:
        assert read == value  # the same instant, in the session's zone
    elif isinstance(value, bytes):
        assert bytes(read) == value
    else:
        assert read == value
    assert row[1:] == ("100%", "x")


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.one_of(
        st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"])),
        st.integers(),
        st.booleans(),
        st.none(),
        st.datetimes(timezones=st.just(UTC)),
        st.dates(),
    )
)
def test_any_value_of_the_written_types_matches_psycopg_and_reads_back(
    connection: psycopg.Connection[Any], value: Any
) -> None:
    ours, theirs = both(connection, value)
    assert ours == theirs
    with connection.cursor() as cursor:
        row = cursor.execute(ours).fetchone()
    assert row is not None and row[0] == value


def test_a_nul_in_text_is_refused_with_psycopgs_error(connection: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.DataError, match="cannot contain NUL"):
        ClientBinding(connection)(SQL, {"value": "a\x00b", "other": "x"})
    with pytest.raises(psycopg.DataError, match="cannot contain NUL"):
        psycopg.ClientCursor(connection).mogrify(SQL, {"value": "a\x00b", "other": "x"})


def test_an_instant_written_before_does_not_stand_for_the_same_instant_in_another_zone(
    connection: psycopg.Connection[Any],
) -> None:
    instant = datetime(2026, 3, 1, 9, 30, 1, tzinfo=UTC)
    paris = instant.astimezone(ZoneInfo("Europe/Paris"))
    assert paris == instant  # equal (and hashed alike) as instants
    for value in (instant, paris, instant):
        ours, theirs = both(connection, value)
        assert ours == theirs
    assert "+01:00" in both(connection, paris)[0]
