"""PostgreSQL's idle_in_transaction_session_timeout ends a write transaction left idle,
whatever its last message was: an ordinary statement, the keyed write's opening pipeline,
or psycopg's executemany (a pipeline too). After a pipeline psycopg used to send a Flush
behind the Sync, which disarmed the server's timer until the next statement
(`store/pg_connection.py`)."""

from __future__ import annotations

import asyncio
import time
import uuid

import grpc
import psycopg
import pytest
from sqlalchemy import text

from billing.app.ports import IdempotencyKey
from billing.domain.errors import DeadlineExceeded
from billing.store.engine import SessionTimeouts, create_engine
from billing.store.sql_store import SqlStore, SqlTransaction
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, Tenant, ThreadedServer, server_settings

IDLE_MS = 200


def _dsn(database: Database) -> str:
    return database.sync_url.replace("postgresql+psycopg", "postgresql")


def test_a_create_idle_after_its_opening_pipeline_is_ended(make_database, tenant: Tenant):  # type: ignore[no-untyped-def]
    # CreateCustomer's only round trips are the opening pipeline and the batch with the
    # COMMIT: the fault delay (before commit) leaves it idle right after the pipeline.
    database = make_database("postgresql")
    server = ThreadedServer(
        server_settings(database.async_url, db_idle_in_transaction_timeout_ms=IDLE_MS)
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = customers_pb2_grpc.CustomerServiceStub(channel)
            request = pb.CreateCustomerRequest(
                customer=pb.Customer(display_name="Idle Ltd", currency_code="USD"),
                request_id=uuid.uuid4().hex,
            )
            with pytest.raises(grpc.RpcError) as failure:
                stub.CreateCustomer(request, metadata=tenant.with_faults(delay_ms=1000), timeout=20)
            assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, failure.value
            assert "stayed idle past the server's limit" in (failure.value.details() or "")
            with psycopg.connect(_dsn(database)) as observer:
                count = observer.execute(
                    "SELECT count(*) FROM customers WHERE tenant_id = %s", (tenant.id,)
                ).fetchone()
            assert count == (0,)
            # The key's lock went with the session: the same request_id now simply creates.
            created = stub.CreateCustomer(request, metadata=tenant.metadata, timeout=20)
            assert created.display_name == "Idle Ltd"
    finally:
        server.stop()


async def _last_statement(path: str, tx: SqlTransaction) -> None:
    if path == "a statement":
        await tx.connection.raw.execute(text("SELECT count(*) FROM customers"))
    elif path == "executemany":  # several parameter sets: psycopg sends them as a pipeline
        await tx.connection.raw.execute(
            text("SELECT 1 FROM customers WHERE id = :id"), [{"id": "a"}, {"id": "b"}]
        )
    # "the opening pipeline": nothing after it


@pytest.mark.parametrize("path", ["the opening pipeline", "executemany", "a statement"])
def test_a_transaction_idle_after_its_last_message_is_ended_by_the_server(  # type: ignore[no-untyped-def]
    make_database, path: str
) -> None:
    database = make_database("postgresql")
    key = IdempotencyKey("t_idle", "CreateCustomer", uuid.uuid4().hex)

    async def run() -> bool:
        engine = create_engine(
            database.async_url, timeouts=SessionTimeouts(idle_in_transaction_ms=IDLE_MS)
        )
        store = SqlStore(engine)
        ended_by_server = False
        try:
            with pytest.raises(DeadlineExceeded, match="stayed idle past the server's limit"):
                async with store.write(key) as tx:
                    await _last_statement(path, tx)
                    raw = (await tx.connection.raw.get_raw_connection()).driver_connection
                    assert raw is not None
                    pid = raw.pgconn.backend_pid  # libpq's copy: no message sent
                    ended_by_server = await _ended_within(database, pid, seconds=3)
            # Nothing kept the key's advisory lock (RequestInProgress if something had).
            async with store.write(key):
                pass
            return ended_by_server
        finally:
            await engine.dispose()

    assert asyncio.run(run()) is True


async def _ended_within(database: Database, pid: int, *, seconds: float) -> bool:
    """Whether the backend `pid` is gone within `seconds`, seen from another session while
    the transaction's own client sends nothing."""
    deadline = time.monotonic() + seconds
    async with await psycopg.AsyncConnection.connect(_dsn(database), autocommit=True) as observer:
        while time.monotonic() < deadline:
            cursor = await observer.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
            if await cursor.fetchone() is None:
                return True
            await asyncio.sleep(0.05)
    return False
