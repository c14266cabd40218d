"""The lean read path (ADR 0065): GetCustomer's read on an autocommit psycopg pool of its own
(PostgreSQL), the write path's simple reads on the transaction's psycopg connection. The same
domain objects as the SQLAlchemy path, the same tenant scoping, the same errors; the pool
bounded, never handing out a connection left mid-statement."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from billing.domain.customers import (
    Customer,
    CustomerFields,
    PostalAddress,
    TaxId,
    exemption_from_dict,
)
from billing.domain.errors import DeadlineExceeded
from billing.domain.tax import CustomerType, Exemption
from billing.store.customers import GET, _from_row
from billing.store.engine import POOL_RECYCLE_S, SessionTimeouts, create_engine, session_options
from billing.store.lean_reads import LeanPool
from billing.store.sql_store import SqlStore


def _customer() -> Customer:
    fields = CustomerFields(
        display_name="Zoë Ünicode & Co",
        currency_code="EUR",
        email="billing@example.com",
        time_zone="Europe/Berlin",
        locale="de-DE",
        billing_address=PostalAddress(
            region_code="DE",
            postal_code="10115",
            locality="Berlin",
            address_lines=("Straße 1", "Hinterhaus"),
            organization="Zoë GmbH",
        ),
        tax_ids=(TaxId(type="eu_vat", value="DE123456789"),),
        metadata={"crm": "42", "empty": ""},
        bill_cycle_day=7,
        customer_type=CustomerType.BUSINESS,
        tax_exemptions=(
            exemption_from_dict(
                {
                    "jurisdiction": "US-WA",
                    "reason": "reseller",
                    "certificate": "C-1",
                    "valid_from": "2025-01-01",
                    "valid_until": "2026-01-01",
                }
            ),
        ),
    )
    at = datetime(2025, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    return Customer("cus_lean1", fields, 3, at, at.replace(day=5), None)


def _pool(url: str, size: int = 10, timeouts: SessionTimeouts | None = None) -> LeanPool:
    return LeanPool(url, size=size, options=session_options(timeouts), recycle_s=POOL_RECYCLE_S)


def test_the_lean_customer_read_gives_what_was_stored_and_only_to_its_tenant(  # type: ignore[no-untyped-def]
    make_database, backend: str
) -> None:
    database = make_database(backend)
    stored = _customer()

    async def run() -> tuple[object, ...]:
        engine = create_engine(database.async_url)
        lean = None if backend == "sqlite" else _pool(database.async_url)
        store = SqlStore(engine, lean=lean)
        try:
            async with store.write(None) as tx:
                await tx.customers.insert("t1", stored)
            async with store.read() as tx:
                in_tx = await tx.customers.get("t1", stored.id)
                row = await tx.connection.raw.execute(GET, {"tenant_id": "t1", "id": stored.id})
                through_sqlalchemy = _from_row(row.mappings().one())
            return (
                await store.customer("t1", stored.id),
                in_tx,
                through_sqlalchemy,
                await store.customer("t2", stored.id),
                await store.customer("t1", "cus_missing"),
            )
        finally:
            if lean is not None:
                await lean.close()
            await engine.dispose()

    lean_read, in_tx, through_sqlalchemy, other_tenant, missing = asyncio.run(run())
    assert lean_read == stored
    assert in_tx == stored
    assert through_sqlalchemy == stored
    assert isinstance(lean_read, Customer)
    assert lean_read.create_time.tzinfo is UTC
    assert isinstance(lean_read.fields.tax_exemptions[0], Exemption)
    assert other_tenant is None
    assert missing is None


def test_the_pool_is_bounded_and_hands_a_returned_connection_to_a_waiter(make_database) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")

    async def run() -> tuple[set[int], int, bool, int]:
        pool = _pool(database.async_url, size=2)
        try:
            async with pool.connection() as first, pool.connection() as second:
                waiter = asyncio.ensure_future(_backend_pid(pool))
                await asyncio.sleep(0.2)
                waiting = not waiter.done()
                pids = {first.psycopg.info.backend_pid, second.psycopg.info.backend_pid}
            handed_pid = await waiter
            return pids, handed_pid, waiting, pool._opened
        finally:
            await pool.close()

    pids, handed_pid, waiting, opened = asyncio.run(run())
    assert waiting  # a third caller waited: no connection past the pool's size
    assert handed_pid in pids  # a returned connection itself, not a new one
    assert opened == 2


async def _backend_pid(pool: LeanPool) -> int:
    async with pool.connection() as conn:
        return conn.psycopg.info.backend_pid


def test_a_connection_left_mid_statement_is_closed_not_reused(make_database) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")

    async def run() -> tuple[int, int, int]:
        pool = _pool(database.async_url, size=1)
        try:

            async def sleep() -> None:
                async with pool.connection() as conn:
                    await conn.fetch_one(b"sleep", b"SELECT pg_sleep(5)", [])

            task = asyncio.ensure_future(sleep())
            await asyncio.sleep(0.3)
            stuck = pool._idle == [] and pool.in_use == 1
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            async with pool.connection() as conn:
                pid = conn.psycopg.info.backend_pid
                one = (await conn.fetch_one(b"one", b"SELECT 1", []) or (0,))[0]
            return int(stuck), pid, one
        finally:
            await pool.close()

    stuck, _pid, one = asyncio.run(run())
    assert stuck == 1
    assert one == 1  # a fresh connection, answering at once


def test_the_pool_has_the_session_timeouts_and_maps_a_timeout(make_database) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")

    async def run() -> list[str]:
        pool = _pool(database.async_url, timeouts=SessionTimeouts(30_000, 5_000, 60_000))
        try:
            async with pool.connection() as lean:
                conn = lean.psycopg
                assert conn.autocommit
                return [
                    str((await (await conn.execute(f"SHOW {name}")).fetchone() or ("",))[0])
                    for name in (
                        "statement_timeout",
                        "lock_timeout",
                        "idle_in_transaction_session_timeout",
                        "plan_cache_mode",
                    )
                ]
        finally:
            await pool.close()

    assert asyncio.run(run()) == ["30s", "5s", "1min", "force_custom_plan"]

    async def read_while_locked() -> None:
        engine = create_engine(database.async_url)
        lean = _pool(database.async_url, timeouts=SessionTimeouts(statement_ms=200))
        store = SqlStore(engine, lean=lean)
        try:
            async with engine.connect() as holder:
                await holder.exec_driver_sql("BEGIN")
                await holder.exec_driver_sql("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
                await store.customer("t1", "cus_any")
        finally:
            await lean.close()
            await engine.dispose()

    with pytest.raises(DeadlineExceeded, match="statement timeout"):
        asyncio.run(read_while_locked())


def test_a_lean_read_prepares_once_and_raises_psycopgs_error_leaving_the_connection_usable(  # type: ignore[no-untyped-def]
    make_database,
) -> None:
    import psycopg

    database = make_database("postgresql")

    async def run() -> tuple[list[object], type[BaseException], object, object]:
        pool = _pool(database.async_url, size=1)
        try:
            async with pool.connection() as conn:
                sql = b"SELECT $1::int * 2, now()"
                rows = [await conn.fetch_one(b"double", sql, [str(n).encode()]) for n in (1, 2)]
                none = await conn.fetch_one(b"nothing", b"SELECT 1 WHERE false", [])
                with pytest.raises(psycopg.Error) as failed:
                    await conn.fetch_one(b"divide", b"SELECT 1 / $1::int", [b"0"])
                after = await conn.fetch_one(b"double", sql, [b"21"])
                prepared = await (
                    await conn.psycopg.execute("SELECT name FROM pg_prepared_statements ORDER BY 1")
                ).fetchall()
                # psycopg used the socket in between: the lean path watches it again.
                again = await conn.fetch_one(b"double", sql, [b"5"])
            return (
                [r[0] if r else None for r in (*rows, none, after, again)],
                failed.type,
                prepared,
                pool._idle != [],
            )
        finally:
            await pool.close()

    values, error, prepared, kept = asyncio.run(run())
    assert values == [2, 4, None, 42, 10]
    assert error is psycopg.errors.DivisionByZero
    assert prepared == [("divide",), ("double",), ("nothing",)]
    assert kept  # the connection went back to the pool after a failed statement


def test_a_connection_the_server_ends_while_idle_is_not_reused(make_database) -> None:  # type: ignore[no-untyped-def]
    import psycopg

    database = make_database("postgresql")

    async def run() -> tuple[int, int, object]:
        pool = _pool(database.async_url, size=1)
        try:
            async with pool.connection() as conn:
                pid = (await conn.fetch_one(b"pid", b"SELECT pg_backend_pid()", []) or (0,))[0]
            async with await psycopg.AsyncConnection.connect(
                database.async_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
            ) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            await asyncio.sleep(0.3)  # the loop sees the closed socket; it must not spin on it
            with pytest.raises(psycopg.OperationalError):
                async with pool.connection() as conn:
                    await conn.fetch_one(b"pid", b"SELECT pg_backend_pid()", [])
            async with pool.connection() as conn:
                fresh = (await conn.fetch_one(b"pid", b"SELECT pg_backend_pid()", []) or (0,))[0]
            return pid, fresh, pool._opened
        finally:
            await pool.close()

    pid, fresh, opened = asyncio.run(run())
    assert fresh != pid
    assert opened == 1
