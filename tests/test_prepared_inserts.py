"""The write batch's inserts prepared once per connection and run on a generic plan
(store/prepared.py, ADR 0072): the prepared forms, what PostgreSQL holds afterwards, a failed
query's names given up, the session's plan mode restored, and the values read back exact."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from billing.app.ports import IdempotencyKey
from billing.app.records import OutboxEvent
from billing.domain.customers import Customer, CustomerFields
from billing.store import prepared
from billing.store.prepared import parametrized
from billing.store.sql_store import SqlStore
from conftest import Database
from store_run import query_rows as rows
from store_run import run_with_store as run

NOW = datetime(2026, 12, 5, 12, 0, 0, 123456, tzinfo=UTC)

_ROW = "INSERT INTO t (a, b, c) VALUES (%(a)s::VARCHAR, %(b)s, %(c)s::NUMERIC(20, 4))"
_AT = _ROW.index("VALUES (") + len("VALUES ")


def test_an_insert_of_parameters_takes_its_types_from_casts_and_columns() -> None:
    form = parametrized(_ROW, _AT)
    assert form is not None
    assert form.sql == "INSERT INTO t (a, b, c) VALUES ($1::VARCHAR, $2, $3::NUMERIC(20, 4))"
    assert form.names == ("a", "b", "c")


def test_a_multi_row_insert_numbers_each_rows_parameters_after_the_last() -> None:
    tail = " ON CONFLICT (a) DO NOTHING"
    form = parametrized(_ROW + tail, _AT, tail, rows=3)
    assert form is not None
    assert form.sql == (
        "INSERT INTO t (a, b, c) VALUES ($1::VARCHAR, $2, $3::NUMERIC(20, 4)),"
        " ($4::VARCHAR, $5, $6::NUMERIC(20, 4)), ($7::VARCHAR, $8, $9::NUMERIC(20, 4))"
        " ON CONFLICT (a) DO NOTHING"
    )
    assert (form.names, form.rows) == (("a", "b", "c"), 3)


@pytest.mark.parametrize(
    "sql",
    [
        # a parameter inside an expression: its type would be inferred
        "INSERT INTO t (a) VALUES (lower(%(a)s))",
        # a plan to choose: reads and updates keep the session's custom plans
        "SELECT x FROM t WHERE a = %(a)s::VARCHAR",
        "UPDATE t SET b = %(b)s::VARCHAR WHERE a = %(a)s::VARCHAR",
        "INSERT INTO t (a) SELECT a FROM u WHERE u.a = %(a)s::VARCHAR",
        "WITH c AS (SELECT 1) INSERT INTO t (a) VALUES (%(a)s::VARCHAR)",
        # no parameter: nothing to prepare
        "INSERT INTO t (a) VALUES ('x')",
    ],
)
def test_anything_else_is_sent_as_it_was(sql: str) -> None:
    assert parametrized(sql, sql.find("VALUES (") + len("VALUES ")) is None


def test_an_upsert_whose_parameters_all_carry_casts_is_prepared() -> None:
    sql = (
        "INSERT INTO t (a, n) VALUES (%(a)s::VARCHAR, %(n)s::INTEGER)"
        " ON CONFLICT (a) DO UPDATE SET n = t.n + excluded.n"
    )
    form = parametrized(sql)
    assert form is not None and form.names == ("a", "n")
    assert "%" not in form.sql


def test_a_percent_sign_is_written_once() -> None:
    form = parametrized("INSERT INTO t (a, b) VALUES (%(a)s::VARCHAR, '100%%')")
    assert form is not None and form.sql.endswith("($1::VARCHAR, '100%')")


@pytest.fixture
def database(make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database("postgresql")


def customer(customer_id: str, name: str = "Acme") -> Customer:
    fields = CustomerFields(display_name=name, currency_code="EUR")
    return Customer(customer_id, fields, 1, NOW, NOW)


def key() -> IdempotencyKey:
    return IdempotencyKey("t1", "CreateCustomer", uuid.uuid4().hex)


def event(n: int) -> OutboxEvent:
    payload = {"n": n, "quote": "it's", "path": "a\\b", "none": None}
    return OutboxEvent(f"evt_{n}", "t1", "x.happened", f"things/{n}", payload, NOW)


_HELD = sa.text("select name, statement from pg_prepared_statements where name like 'billing\\_%'")


async def held_inserts(tx: object) -> list[str]:
    """The tables of the inserts the transaction's connection holds prepared, by name order
    (a simple query's PREPARE shows the whole query as its statement)."""
    result = await tx.connection.execute(_HELD)  # type: ignore[attr-defined]
    found = {
        name: re.search(rf"PREPARE {name} AS INSERT INTO (\w+)", statement).group(1)  # type: ignore[union-attr]
        for name, statement in result
    }
    return [found[name] for name in sorted(found, key=lambda name: int(name.split("_")[1]))]


def test_a_connection_prepares_each_insert_once_and_the_values_read_back_exact(
    database: Database,
) -> None:
    held: list[list[str]] = []

    async def work(store: SqlStore) -> None:
        for n in range(3):  # one pooled connection, three transactions
            async with store.write(key()) as tx:
                await tx.customers.insert("t1", customer(f"cus_{n}", f"O'Brien {n}"))
                await tx.outbox.add(event(2 * n))
                await tx.outbox.add(event(2 * n + 1))
            async with store.write(None) as tx:
                held.append(await held_inserts(tx))

    run(database, work)
    first = held[0]
    assert sorted(first) == ["customers", "outbox_events"]  # the events' two rows as one
    assert held[1] == held[2] == first  # the next calls prepared nothing more
    assert rows(database, "select id, display_name from customers order by id") == [
        (f"cus_{n}", f"O'Brien {n}") for n in range(3)
    ]
    assert rows(database, "select id, payload, occurred_at from outbox_events order by id") == [
        (f"evt_{n}", event(n).payload, NOW) for n in range(6)
    ]


def test_a_failed_query_gives_up_its_names_and_the_next_prepares_again(
    database: Database,
) -> None:
    """The second transaction's query prepares the outbox insert, then fails on the customer's
    primary key; whether its PREPARE ran is not known from here, so the third transaction
    prepares under a new name, and nothing of the second is written."""
    names: list[str] = []  # the tables of the held inserts named after outbox_events

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_1"))
        with pytest.raises(IntegrityError):
            async with store.write(key()) as tx:
                await tx.outbox.add(event(1))
                await tx.customers.insert("t1", customer("cus_1"))  # the same primary key
        async with store.write(key()) as tx:
            await tx.outbox.add(event(2))
            await tx.customers.insert("t1", customer("cus_2"))
        async with store.write(None) as tx:
            names.extend(table for table in await held_inserts(tx) if table == "outbox_events")

    run(database, work)
    assert len(names) == 2  # the failed query's (it ran before the failure) and its successor's
    assert rows(database, "select id from outbox_events") == [("evt_2",)]
    assert rows(database, "select id from customers order by id") == [("cus_1",), ("cus_2",)]


def test_the_session_keeps_custom_plans_after_a_flush_before_the_commit(
    database: Database,
) -> None:
    modes: list[str] = []

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_1"))
            await tx.flush()  # prepared insert, generic plan, then the session's mode again
            modes.append(await tx.connection.scalar(sa.text("show plan_cache_mode")))

    run(database, work)
    assert modes == ["force_custom_plan"]
    assert rows(database, "select id from customers") == [("cus_1",)]


def test_a_connection_at_its_fill_sends_new_inserts_as_text(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prepared, "MAX_STATEMENTS", 1)
    held: list[int] = []

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:  # the customer's insert takes the one place
            await tx.customers.insert("t1", customer("cus_1"))
            await tx.outbox.add(event(1))
        async with store.write(None) as tx:
            held.append(len(await held_inserts(tx)))

    run(database, work)
    assert held == [1]
    assert rows(database, "select id from outbox_events") == [("evt_1",)]
    assert rows(database, "select id from customers") == [("cus_1",)]


def test_inserts_are_prepared_again_after_psycopg_deallocates_every_statement(
    database: Database,
) -> None:
    """psycopg ends a rollback with DEALLOCATE ALL when it holds prepared statements of its
    own (a statement run five times): the batch's go too, and the next insert prepares its
    statement again instead of executing a name the session no longer has."""
    held: list[list[str]] = []

    class Refused(Exception):
        pass

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_1"))
        with pytest.raises(Refused):
            async with store.write(key()) as tx:
                for _ in range(6):  # psycopg prepares it on the fifth run
                    await tx.connection.execute(sa.select(sa.literal(1)))
                raise Refused  # rolled back
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_2"))
        async with store.write(None) as tx:
            held.append(await held_inserts(tx))

    run(database, work)
    assert held == [["customers"]]  # prepared again, under a new name
    assert rows(database, "select id from customers order by id") == [("cus_1",), ("cus_2",)]


def test_a_statement_prepared_for_its_one_plan_is_prepared_only_when_the_caller_says_so() -> None:
    sql = (
        "WITH c AS (INSERT INTO n (k) VALUES (%(k)s::VARCHAR) RETURNING k)"
        " INSERT INTO t (a) VALUES ((SELECT k FROM c))"
    )
    assert parametrized(sql, one_plan=True) is not None
    assert parametrized(sql) is None  # not an INSERT … VALUES: not for anyone else
