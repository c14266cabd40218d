"""PostgreSQL session timeouts on every pooled connection (store/engine.py): a write that
waits on a lock past lock_timeout fails cleanly (ABORTED, ROWS_LOCKED: not a hang, not
INTERNAL) and a statement cut by statement_timeout is DEADLINE_EXCEEDED."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import psycopg
import pytest
from google.protobuf import field_mask_pb2
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from sqlalchemy import text

from billing.domain.errors import DeadlineExceeded
from billing.store.engine import SessionTimeouts, create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Tenant, ThreadedServer, server_settings


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert isinstance(status, status_pb2.Status)
    info = error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(info)
    return info.reason


def test_a_write_waiting_on_a_lock_past_lock_timeout_is_aborted(make_database, tenant: Tenant):  # type: ignore[no-untyped-def]
    database = make_database("postgresql")
    server = ThreadedServer(server_settings(database.async_url, db_lock_timeout_ms=200))
    try:
        dsn = database.sync_url.replace("postgresql+psycopg", "postgresql")
        with (
            psycopg.connect(dsn) as holder,
            grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel,
        ):
            # Another session holds the table against inserts, past the lock timeout.
            holder.execute("LOCK TABLE customers IN EXCLUSIVE MODE")
            stub = customers_pb2_grpc.CustomerServiceStub(channel)
            request = pb.CreateCustomerRequest(
                customer=pb.Customer(display_name="Acme", currency_code="USD"),
                request_id=uuid.uuid4().hex,
            )
            with pytest.raises(grpc.RpcError) as failure:
                stub.CreateCustomer(request, metadata=tenant.metadata, timeout=20)
            assert failure.value.code() == grpc.StatusCode.ABORTED
            assert _reason(failure.value) == "ROWS_LOCKED"
            holder.rollback()
            # Nothing was left behind: the same request_id now simply creates the customer.
            created = stub.CreateCustomer(request, metadata=tenant.metadata, timeout=20)
            assert created.display_name == "Acme"
    finally:
        server.stop()


def test_a_statement_past_statement_timeout_is_deadline_exceeded(make_database) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")

    async def sleep_in_the_database() -> None:
        engine = create_engine(database.async_url, timeouts=SessionTimeouts(statement_ms=100))
        try:
            async with SqlStore(engine).read() as tx:
                await tx.connection.raw.execute(text("SELECT pg_sleep(5)"))
        finally:
            await engine.dispose()

    with pytest.raises(DeadlineExceeded, match="statement timeout"):
        asyncio.run(sleep_in_the_database())


def test_every_pooled_connection_has_the_timeouts(make_database) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")

    async def settings() -> list[str]:
        engine = create_engine(database.async_url, timeouts=SessionTimeouts(30_000, 5_000, 60_000))
        try:
            async with engine.connect() as conn:
                return [
                    str((await conn.execute(text(f"SHOW {name}"))).scalar())
                    for name in (
                        "statement_timeout",
                        "lock_timeout",
                        "idle_in_transaction_session_timeout",
                    )
                ]
        finally:
            await engine.dispose()

    assert asyncio.run(settings()) == ["30s", "5s", "1min"]


def test_a_transaction_idle_past_its_limit_is_deadline_exceeded(make_database, tenant: Tenant):  # type: ignore[no-untyped-def]
    database = make_database("postgresql")
    server = ThreadedServer(
        server_settings(database.async_url, db_idle_in_transaction_timeout_ms=200)
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = customers_pb2_grpc.CustomerServiceStub(channel)
            created = stub.CreateCustomer(
                pb.CreateCustomerRequest(
                    customer=pb.Customer(display_name="Acme", currency_code="USD"),
                    request_id=uuid.uuid4().hex,
                ),
                metadata=tenant.metadata,
            )
            request = pb.UpdateCustomerRequest(
                customer=pb.Customer(name=created.name, display_name="Renamed", etag=created.etag),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                request_id=uuid.uuid4().hex,
            )
            with pytest.raises(grpc.RpcError) as failure:
                # The write sits idle in its transaction before commit (ADR 0006's delay).
                stub.UpdateCustomer(request, metadata=tenant.with_faults(delay_ms=1000), timeout=20)
            assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED, failure.value
            assert _reason(failure.value) == "DEADLINE_EXCEEDED"
            renamed = stub.UpdateCustomer(request, metadata=tenant.metadata, timeout=20)
            assert renamed.display_name == "Renamed"
    finally:
        server.stop()
