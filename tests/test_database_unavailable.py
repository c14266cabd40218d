"""A database that cannot be reached answers UNAVAILABLE with reason DATABASE_UNAVAILABLE
(retry with the same request_id), never INTERNAL: a PostgreSQL database closed to
connections while a real server runs on it, then opened again; and a store whose database
is not listening at all."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import psycopg
import pytest

from billing.domain.errors import DatabaseUnavailable
from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from billing_client.v1 import customers_pb2, customers_pb2_grpc
from conftest import PG_ADMIN_DSN, Tenant, ThreadedServer, server_settings
from workers import free_port


def reason_of(error: grpc.RpcError) -> str:
    from google.rpc import error_details_pb2, status_pb2

    for key, value in error.trailing_metadata() or ():  # type: ignore[attr-defined]
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason
    return ""


def test_a_store_whose_database_is_not_listening_raises_unavailable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"

    async def run() -> None:
        engine = create_engine(url)
        try:
            store = SqlStore(engine)
            with pytest.raises(DatabaseUnavailable):
                async with store.read() as tx:
                    await tx.customers.get("t1", "cus_1")
            with pytest.raises(DatabaseUnavailable):
                async with store.write(None) as tx:
                    await tx.customers.get("t1", "cus_1")
        finally:
            await engine.dispose()

    asyncio.run(run())


def _admin(statement: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(statement)


def test_calls_answer_unavailable_while_the_database_is_closed_then_work_again(
    make_database, tenant: Tenant
) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")
    name = database.async_url.rsplit("/", 1)[1]
    running = ThreadedServer(server_settings(database.async_url))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{running.port}") as channel:
            customers = customers_pb2_grpc.CustomerServiceStub(channel)

            def create() -> customers_pb2.Customer:
                return customers.CreateCustomer(
                    customers_pb2.CreateCustomerRequest(
                        customer=customers_pb2.Customer(display_name="Ada", currency_code="EUR"),
                        request_id=uuid.uuid4().hex,
                    ),
                    metadata=tenant.metadata,
                    timeout=30,
                )

            created = create()
            _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            _admin(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                f" WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
            try:
                for call in (
                    create,
                    lambda: customers.GetCustomer(
                        customers_pb2.GetCustomerRequest(name=created.name),
                        metadata=tenant.metadata,
                        timeout=30,
                    ),
                ):
                    for _ in range(3):  # a pooled connection found dead, then refused ones
                        with pytest.raises(grpc.RpcError) as refused:
                            call()
                        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
                        assert reason_of(refused.value) == "DATABASE_UNAVAILABLE"
            finally:
                _admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
            assert create().display_name == "Ada"
    finally:
        running.stop()
