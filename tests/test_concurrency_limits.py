"""Calls a process serves at once: past BILLING_MAX_CONCURRENT_RPCS a call is refused at once
with RESOURCE_EXHAUSTED instead of queueing without bound, and nothing of it is written."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import grpc
import pytest
import sqlalchemy

from billing.config import Settings, SettingsError
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, ThreadedServer, auth, make_token, server_settings


def _create(name: str) -> pb.CreateCustomerRequest:
    return pb.CreateCustomerRequest(
        customer=pb.Customer(display_name=name, currency_code="USD"), request_id=name
    )


def test_a_call_past_the_concurrent_limit_is_refused_at_once(
    make_database: Callable[[str], Database],
):
    database = make_database("sqlite")
    server = ThreadedServer(server_settings(database.async_url, max_concurrent_rpcs=2))
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    token = auth(make_token(tenant))
    slow = (*token, ("x-billing-fault-delay-ms", "1500"))  # held open before its commit
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            customers = customers_pb2_grpc.CustomerServiceStub(channel)
            in_flight = [
                customers.CreateCustomer.future(_create(f"slow-{i}"), metadata=slow)
                for i in range(2)
            ]
            time.sleep(0.5)  # both are being served now
            with pytest.raises(grpc.RpcError) as refused:
                customers.CreateCustomer(_create("third"), metadata=token, timeout=10)
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert [f.result(timeout=30).display_name for f in in_flight] == [
                "slow-0",
                "slow-1",
            ]
            # With the slots free again, the same request is served.
            assert customers.CreateCustomer(_create("third"), metadata=token).display_name == (
                "third"
            )
    finally:
        server.stop()
    engine = sqlalchemy.create_engine(database.sync_url)
    with engine.connect() as conn:
        names = conn.execute(
            sqlalchemy.text(
                "SELECT display_name FROM customers WHERE tenant_id = :t ORDER BY display_name"
            ),
            {"t": tenant},
        ).scalars()
        assert list(names) == ["slow-0", "slow-1", "third"]
    engine.dispose()


def test_the_concurrent_limit_setting_is_checked():
    with pytest.raises(SettingsError, match="BILLING_MAX_CONCURRENT_RPCS"):
        Settings.from_env({"BILLING_MAX_CONCURRENT_RPCS": "0"})
