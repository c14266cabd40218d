"""The write path's batching (store/batch.py, ADR 0018), on both databases, through the store
itself: deferred writes keep their order and meaning, a failing one fails the transaction with
nothing written, and the idempotency key's insert still refuses a live key stored behind the
key lock's back (retried, not lost)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from billing.app.ports import IdempotencyKey, RetryableConflict, StoredResult
from billing.app.records import OutboxEvent
from billing.domain.customers import Customer, CustomerFields
from billing.store import customers as customers_store
from billing.store.sql_store import SqlStore
from conftest import Database
from store_run import query_rows as rows
from store_run import run_with_store as run

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def database(backend: str, make_database: Callable[[str], Database]) -> Iterator[Database]:
    yield make_database(backend)


def customer(customer_id: str) -> Customer:
    fields = CustomerFields(display_name="Acme", currency_code="EUR")
    return Customer(customer_id, fields, 1, NOW, NOW)


def key(request_id: str | None = None) -> IdempotencyKey:
    return IdempotencyKey("t1", "CreateCustomer", request_id or uuid.uuid4().hex)


def test_a_deferred_write_is_read_back_in_its_own_transaction(database: Database) -> None:
    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_1"))
            assert len(tx.connection.batch) == 1  # waiting, not sent
            found = await tx.customers.get("t1", "cus_1")  # a read flushes first
            assert found is not None and found.fields.display_name == "Acme"
            assert len(tx.connection.batch) == 0

    run(database, work)
    assert rows(database, "select id, currency_code from customers") == [("cus_1", "EUR")]


def test_a_read_of_other_tables_goes_ahead_and_a_write_to_the_table_flushes(
    database: Database,
) -> None:
    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_5"))
            assert await tx.credit.balance("t1", "cus_5", "EUR") == 0  # another table
            assert len(tx.connection.batch) == 1  # so the customer still waits
            changed = replace(customer("cus_5"), version=2)
            assert await tx.customers.update("t1", changed, 1)  # its table: sent first
            assert len(tx.connection.batch) == 0

    run(database, work)
    assert rows(database, "select id, version from customers") == [("cus_5", 2)]


def test_deferred_writes_keep_their_order(database: Database) -> None:
    """Events added in this order are written in this order (ids sort as added)."""

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            for n in range(5):
                await tx.outbox.add(
                    OutboxEvent(f"evt_{n}", "t1", "x.happened", f"things/{n}", {"n": n}, NOW)
                )
            await tx.customers.insert("t1", customer("cus_2"))

    run(database, work)
    assert rows(database, "select id from outbox_events order by id") == [
        (f"evt_{n}",) for n in range(5)
    ]


def test_a_failing_deferred_write_fails_the_transaction_and_writes_nothing(
    database: Database,
) -> None:
    async def work(store: SqlStore) -> None:
        with pytest.raises(IntegrityError):
            async with store.write(key()) as tx:
                await tx.customers.insert("t1", customer("cus_3"))
                await tx.outbox.add(OutboxEvent("evt_x", "t1", "x.y", "things/x", {}, NOW))
                await tx.customers.insert("t1", customer("cus_3"))  # the same primary key

    run(database, work)
    assert rows(database, "select count(*) from customers") == [(0,)]
    assert rows(database, "select count(*) from outbox_events") == [(0,)]


def test_an_expired_key_is_replaced(database: Database) -> None:
    same = key("req-expired")

    async def work(store: SqlStore) -> None:
        async with store.write(same) as tx:
            assert await tx.idempotency.find(same, NOW) is None
            await tx.idempotency.save(
                same, StoredResult(b"a" * 32, b"first"), NOW, NOW + timedelta(hours=1)
            )
        later = NOW + timedelta(hours=2)
        async with store.write(same) as tx:
            assert await tx.idempotency.find(same, later) is None  # expired: not a replay
            await tx.idempotency.save(
                same, StoredResult(b"b" * 32, b"second"), later, later + timedelta(hours=1)
            )
        async with store.write(same) as tx:
            stored = await tx.idempotency.find(same, later)
            assert stored == StoredResult(b"b" * 32, b"second", same.method)

    run(database, work)


def test_a_live_key_stored_behind_the_lock_is_a_retryable_conflict(
    make_database: Callable[[str], Database],
) -> None:
    """Only an advisory-lock id collision lets another transaction store the same key while
    ours runs: our insert then meets a live key, and the write is retried (it will find the
    stored result), never committed twice and never an internal error. (PostgreSQL only:
    SQLite's single writer makes it impossible.)"""
    database = make_database("postgresql")
    same = key("req-collision")

    async def work(store: SqlStore) -> None:
        with pytest.raises(RetryableConflict):
            async with store.write(same) as tx:
                assert await tx.idempotency.find(same, NOW) is None
                dsn = database.sync_url.replace("postgresql+psycopg://", "postgresql://")
                async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as other:
                    await other.execute(
                        "insert into idempotency_keys (tenant_id, method, request_id,"
                        " body_hash, result, created_at, expires_at)"
                        " values (%s, %s, %s, %s, %s, %s, %s)",
                        (
                            *("t1", same.method, same.request_id),
                            *(b"c" * 32, b"theirs", NOW, NOW + timedelta(hours=1)),
                        ),
                    )
                await tx.customers.insert("t1", customer("cus_4"))
                await tx.idempotency.save(
                    same, StoredResult(b"d" * 32, b"ours"), NOW, NOW + timedelta(hours=1)
                )

    run(database, work)
    assert rows(database, "select count(*) from customers") == [(0,)]
    assert rows(database, "select result from idempotency_keys") == [(b"theirs",)]


def test_a_last_statement_runs_after_the_deferred_writes_and_answers_once_committed(
    make_database: Callable[[str], Database],
) -> None:
    """(PostgreSQL: ADR 0064.) It sees the transaction's deferred writes, waits through a
    flush that does not commit, and hands its rows over only when the COMMIT succeeded; if
    anything in the query fails, nothing is written and nothing is handed over."""
    database = make_database("postgresql")
    received: list[list[tuple[object, ...]]] = []
    count = "SELECT count(*), %(tag)s FROM customers WHERE tenant_id = 't1'"

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_6"))
            tx.connection.last(count, {"tag": "committed"}, received.append)
            await tx.customers.insert("t1", customer("cus_7"))
            await tx.connection.flush()  # not the commit: the last statement still waits
            assert received == []
            await tx.customers.insert("t1", customer("cus_8"))
        with pytest.raises(IntegrityError):
            async with store.write(key()) as tx:
                tx.connection.last(count, {"tag": "rolled back"}, received.append)
                await tx.customers.insert("t1", customer("cus_6"))  # the same primary key

    run(database, work)
    assert received == [[(3, "committed")]]
    assert rows(database, "select id from customers order by id") == [
        ("cus_6",),
        ("cus_7",),
        ("cus_8",),
    ]


def test_plain_inserts_of_one_shape_travel_as_one_statement(database: Database) -> None:
    """Five events between two customers' inserts: on PostgreSQL the events are one multi-row
    INSERT and the customers another (no other waiting statement names either table); the
    rows are all written, each table's in the order added."""
    from billing.store import batch

    sent: list[int] = []

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_m1"))
            for n in range(5):
                await tx.outbox.add(
                    OutboxEvent(f"evt_m{n}", "t1", "x.happened", f"things/{n}", {"n": n}, NOW)
                )
            await tx.customers.insert("t1", customer("cus_m2"))
            sent.append(batch.COUNTS.statements)
        sent.append(batch.COUNTS.statements)

    run(database, work)
    if database.backend == "postgresql":
        # the two groups, not a statement per row (seven before)
        assert sent[1] - sent[0] == 2
    assert rows(database, "select id from outbox_events order by id") == [
        (f"evt_m{n}",) for n in range(5)
    ]
    assert rows(database, "select id from customers order by id") == [("cus_m1",), ("cus_m2",)]


def test_a_table_another_waiting_statement_names_keeps_its_inserts_in_place() -> None:
    """An insert moves up to the first of its shape only when nothing else waiting reads or
    writes its table: an update, an upsert, or a differently shaped insert keeps the order."""
    from sqlalchemy.dialects import postgresql

    from billing.store.batch import _Deferred, _groups
    from billing.store.schema import customers, outbox_events

    dialect = postgresql.psycopg.dialect()
    add_event = sa.insert(outbox_events)
    add_customer = sa.insert(customers)
    rename = sa.update(customers).where(customers.c.id == sa.bindparam("cid"))
    event = {"tenant_id": "t1", "id": "e", "event_type": "x", "resource_name": "r"}
    event_row = {**event, "payload": {}, "occurred_at": NOW, "shard": 0}
    customer_row = {"tenant_id": "t1", "id": "c", "display_name": "A"}
    queue = [
        _Deferred(add_customer, [customer_row]),
        _Deferred(add_event, [event_row]),
        _Deferred(rename, [{"cid": "c", "display_name": "B"}]),
        _Deferred(add_event, [event_row]),
        _Deferred(add_customer, [customer_row]),
    ]
    groups = _groups(queue, dialect)
    assert [(g.shape.sql.split()[0:3], len(g.rows)) for g in groups] == [
        (["INSERT", "INTO", "customers"], 1),
        (["INSERT", "INTO", "outbox_events"], 2),
        (["UPDATE", "customers", "SET"], 1),
        (["INSERT", "INTO", "customers"], 1),
    ]


def test_a_waiting_row_can_be_changed_until_it_is_sent(database: Database) -> None:
    seen: list[object] = []

    async def work(store: SqlStore) -> None:
        async with store.write(key()) as tx:
            await tx.customers.insert("t1", customer("cus_1"))
            waiting = tx.connection.batch.waiting_row(customers_store._INSERT, id="cus_1")
            assert waiting is not None
            waiting.update(display_name="Acme GmbH")  # sent changed
            seen.append(tx.connection.batch.waiting_row(customers_store._INSERT, id="cus_2"))
            await tx.flush()
            seen.append(tx.connection.batch.waiting_row(customers_store._INSERT, id="cus_1"))

    run(database, work)
    assert seen == [None, None]  # no such row; sent already
    assert rows(database, "select display_name from customers") == [("Acme GmbH",)]


def test_inserts_that_ignore_conflicts_travel_as_one_statement_each_row_skipped_alone(
    database: Database,
) -> None:
    """Three due items between other writes, one of them already there: on PostgreSQL one
    multi-row INSERT … ON CONFLICT DO NOTHING; the new rows are written, the existing one is
    left as it was (as three statements did)."""
    from billing.app.ports import DueItem
    from billing.store import batch

    def item(n: int, payload: str) -> DueItem:
        at = datetime(2026, 12, 5 + n, tzinfo=UTC)
        return DueItem("t1", f"due_{n}_{payload}", "renew", "sub_1", None, at, payload)

    sent: list[int] = []

    async def work(store: SqlStore) -> None:
        async with store.write(None) as tx:
            await tx.due_work.schedule(item(1, "first"))
        async with store.write(key()) as tx:
            await tx.due_work.schedule(item(0, "new"))
            await tx.customers.insert("t1", customer("cus_d1"))
            await tx.due_work.schedule(item(1, "again"))  # the same subscription, kind, time
            await tx.customers.insert("t1", customer("cus_d2"))
            await tx.due_work.schedule(item(2, "new"))
            sent.append(batch.COUNTS.statements)
        sent.append(batch.COUNTS.statements)

    run(database, work)
    if database.backend == "postgresql":
        assert sent[1] - sent[0] == 2  # the due items, the customers (five before)
    assert rows(database, "select id from due_work order by due_at") == [
        ("due_0_new",),
        ("due_1_first",),
        ("due_2_new",),
    ]
    assert rows(database, "select id from customers order by id") == [("cus_d1",), ("cus_d2",)]


def test_an_upsert_that_updates_is_never_merged() -> None:
    from billing.store.batch import _values_at

    plain = "INSERT INTO t (a, b) VALUES (%(a)s, %(b)s)"
    ignore = plain + " ON CONFLICT (a) DO NOTHING"
    assert _values_at(plain) == (len("INSERT INTO t (a, b) VALUES "), "")
    assert _values_at(ignore) == (
        len("INSERT INTO t (a, b) VALUES "),
        " ON CONFLICT (a) DO NOTHING",
    )
    for other in (
        plain + " ON CONFLICT (a) DO UPDATE SET b = excluded.b",
        plain + " RETURNING t.a",
        "INSERT INTO t (a, b) SELECT a, b FROM u",
        "UPDATE t SET b=%(b)s WHERE t.a = %(a)s",
    ):
        assert _values_at(other) == (-1, "")
