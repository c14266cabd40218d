"""Per-tenant request rate: a token bucket per tenant per process, RESOURCE_EXHAUSTED with
RetryInfo and QuotaFailure over the limit, a bounded table of buckets."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import grpc
import pytest
import sqlalchemy
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from billing.api.rate_limit import TenantRateLimiter
from billing.domain.errors import RateLimited
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, ThreadedServer, auth, make_token, server_settings
from grpc_helpers import error_info


def test_bucket_allows_a_burst_then_the_rate():
    now = [100.0]
    limiter = TenantRateLimiter(2.0, 3, clock=lambda: now[0])
    for _ in range(3):
        limiter.take("a")
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == pytest.approx(0.5)
    assert refused.value.tenant_id == "a"
    limiter.take("b")  # another tenant has its own bucket
    now[0] += 0.25
    with pytest.raises(RateLimited) as refused:
        limiter.take("a")
    assert refused.value.retry_after_s == pytest.approx(0.25)
    now[0] += 0.25
    limiter.take("a")  # one token back after 1/rate seconds
    now[0] += 60
    for _ in range(3):  # refilled to the burst, never beyond
        limiter.take("a")
    with pytest.raises(RateLimited):
        limiter.take("a")


def test_bucket_table_is_bounded_least_recently_seen_first():
    now = [0.0]
    limiter = TenantRateLimiter(1.0, 1, tenants_max=3, clock=lambda: now[0])
    for tenant in ("a", "b", "c"):
        limiter.take(tenant)
    with pytest.raises(RateLimited):
        limiter.take("a")  # "a" is now the most recently seen
    limiter.take("d")  # drops "b", the least recently seen
    assert len(limiter) == 3
    with pytest.raises(RateLimited):
        limiter.take("a")  # still tracked, still empty
    for i in range(1000):
        limiter.take(f"t{i}")
    assert len(limiter) == 3


@pytest.fixture(scope="module")
def limited_server(
    make_database: Callable[[str], Database],
) -> Iterator[tuple[grpc.Channel, Database]]:
    """A server allowing a burst of 3 calls per tenant, then one per 1000 s."""
    database = make_database("sqlite")
    server = ThreadedServer(
        server_settings(database.async_url, rate_limit_per_second=0.001, rate_limit_burst=3)
    )
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        yield channel, database
    server.stop()


@pytest.fixture
def limited(limited_server: tuple[grpc.Channel, Database]) -> grpc.Channel:
    return limited_server[0]


def test_over_the_limit_is_resource_exhausted_with_retry_info(limited):
    customers = customers_pb2_grpc.CustomerServiceStub(limited)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    token = auth(make_token(tenant))
    for _ in range(3):
        assert customers.ListCustomers(pb.ListCustomersRequest(), metadata=token).customers == []
    with pytest.raises(grpc.RpcError) as failure:
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=token)
    error = failure.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (error.details() or "").startswith(
        "too many calls for this tenant: at most 0.001 per second (bursts of 3) per server"
        " process; retry in 99"
    )
    info = error_info(error)
    assert (info.reason, info.domain) == ("RATE_LIMITED", "billing.v1")
    assert dict(info.metadata) == {"rate_per_s": "0.001", "burst": "3"}
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None
    retry, quota = error_details_pb2.RetryInfo(), error_details_pb2.QuotaFailure()
    assert [d.Unpack(retry) or d.Unpack(quota) for d in status.details[1:]] == [True, True]
    # One token per 1000 s, and the burst spent a moment ago: a little under 1000 s to wait.
    assert 990 < retry.retry_delay.ToTimedelta().total_seconds() <= 1000
    assert [(v.subject, v.description) for v in quota.violations] == [
        (f"tenant:{tenant}", "calls per second per tenant per server process")
    ]
    # Another tenant is not slowed; health checks carry no tenant and are never limited.
    other = auth(make_token(f"t_{uuid.uuid4().hex[:12]}"))
    assert customers.ListCustomers(pb.ListCustomersRequest(), metadata=other).customers == []
    health = health_pb2_grpc.HealthStub(limited)
    for _ in range(5):
        assert health.Check(health_pb2.HealthCheckRequest()).status == 1


def test_refused_before_the_handler_runs(limited_server):
    """A refused write leaves nothing behind: the limit is checked before the call runs."""
    channel, database = limited_server
    customers = customers_pb2_grpc.CustomerServiceStub(channel)
    tenant = f"t_{uuid.uuid4().hex[:12]}"
    token = auth(make_token(tenant))
    for _ in range(3):
        customers.ListCustomers(pb.ListCustomersRequest(), metadata=token)
    request = pb.CreateCustomerRequest(
        customer=pb.Customer(display_name="Acme", currency_code="USD"), request_id="r1"
    )
    with pytest.raises(grpc.RpcError) as failure:
        customers.CreateCustomer(request, metadata=token)
    assert failure.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    engine = sqlalchemy.create_engine(database.sync_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sqlalchemy.text("SELECT count(*) FROM customers WHERE tenant_id = :t"), {"t": tenant}
        ).scalar_one()
    engine.dispose()
    assert rows == 0


def test_rate_limit_settings_are_checked():
    from billing.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="BILLING_RATE_LIMIT_PER_SECOND"):
        Settings.from_env({"BILLING_RATE_LIMIT_PER_SECOND": "-1"})
    with pytest.raises(SettingsError, match="BILLING_RATE_LIMIT_BURST"):
        Settings.from_env({"BILLING_RATE_LIMIT_BURST": "0"})
    assert Settings.from_env({"BILLING_RATE_LIMIT_PER_SECOND": "0"}).rate_limit_per_second == 0
