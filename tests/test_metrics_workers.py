"""`billing serve --workers 2` with metrics on (ADR 0061): each worker serves /metrics on a
port of its own (the configured one + i), with its own counters; added up over the ports
they count every call exactly once."""

from __future__ import annotations

import socket
import time
import urllib.error

import grpc
import pytest

from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from metrics_scrape import scrape, value
from test_process_lifecycle import READY_TIMEOUT_S, free_port, new_tenant, server_process

pytestmark = pytest.mark.slow
CREATE = "billing.v1.CustomerService/CreateCustomer"


def two_free_ports() -> int:
    """A port p with p + 1 free as well (a moment ago)."""
    for _ in range(50):
        base = free_port()
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", base + 1))
            except OSError:
                continue
        return base
    raise AssertionError("no two adjacent free ports")


def test_each_worker_serves_its_own_metrics_port(make_database, tmp_path) -> None:  # type: ignore[no-untyped-def]
    database = make_database("postgresql")  # several processes need PostgreSQL
    port, metrics = free_port(), two_free_ports()
    tenant = new_tenant()
    # The serving workers' ports only: no due-work process on the port after them (ADR 0067).
    env = {"BILLING_METRICS_LISTEN": f"127.0.0.1:{metrics}", "BILLING_DUE_WORK_PROCESSES": "0"}
    with server_process(database, tmp_path, listen=f"127.0.0.1:{port}", workers=2, extra_env=env):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:  # the second worker binds a moment after the first
            try:
                for p in (metrics, metrics + 1):
                    scrape(p)
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "a worker's metrics port never answered"
                time.sleep(0.2)
        for i in range(20):  # new connections: the kernel spreads them over the workers
            # A channel of its own subchannels: from grpc's global pool a new channel may take
            # the last one's connection while it lingers, and all 20 calls reach one worker
            # (seen once in a full suite run: [20.0, 0.0]).
            with grpc.insecure_channel(
                f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)]
            ) as channel:
                stub = customers_pb2_grpc.CustomerServiceStub(channel)
                customer = pb.Customer(display_name=f"C{i}", currency_code="USD")
                stub.CreateCustomer(
                    pb.CreateCustomerRequest(customer=customer, request_id=f"r{i}"),
                    metadata=tenant.metadata,
                )
                if i % 5 == 0:
                    with pytest.raises(grpc.RpcError) as refused:
                        stub.CreateCustomer(
                            pb.CreateCustomerRequest(customer=pb.Customer(currency_code="USX")),
                            metadata=tenant.metadata,
                        )
                    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        each = [scrape(p) for p in (metrics, metrics + 1)]
    handled = "billing_rpc_handled_total"
    ok = [value(s, handled, method=CREATE, code="OK") for s in each]
    refused_counts = [value(s, handled, method=CREATE, code="INVALID_ARGUMENT") for s in each]
    assert sum(ok) == 20
    assert sum(refused_counts) == 4
    assert all(n > 0 for n in ok), ok  # both workers served calls, each counted its own
