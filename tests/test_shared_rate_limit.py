"""The per-tenant rate limit shared in Redis (ADR 0066): two limiters, as two server processes
have, grant one bucket between them; without Redis each falls back to its own bucket."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import grpc
import pytest
from grpc_status import rpc_status

from billing.api.rate_limit import TenantRateLimiter
from billing.api.shared_rate_limit import SharedRateLimiter, bucket_key
from billing.domain.errors import RateLimited
from billing.redis_link import FAILURES_TO_OPEN, RedisLink
from billing_client.v1 import customers_pb2 as pb
from billing_client.v1 import customers_pb2_grpc
from conftest import Database, ThreadedServer, auth, make_token, server_settings
from redis_helpers import LIMITS_URL, closed_port_url, redis_client


def _limiter(url: str, rate: float = 0.001, burst: int = 3) -> SharedRateLimiter:
    return SharedRateLimiter(
        RedisLink(url, timeout_s=2.0, backoff_s=60), TenantRateLimiter(rate, burst)
    )


async def _taken(limiter: SharedRateLimiter, tenant: str, calls: int) -> int:
    granted = 0
    for _ in range(calls):
        try:
            await limiter.take(tenant)
            granted += 1
        except RateLimited:
            pass
    return granted


def test_two_limiters_share_one_bucket():
    redis_client(LIMITS_URL)  # skip (fail under CI) without Redis
    tenant, other = f"t_{uuid.uuid4().hex}", f"t_{uuid.uuid4().hex}"

    async def run() -> None:
        first, second = _limiter(LIMITS_URL), _limiter(LIMITS_URL)
        assert await _taken(first, tenant, 2) == 2
        assert await _taken(second, tenant, 5) == 1  # the burst of 3 is spent between them
        assert await _taken(first, tenant, 5) == 0
        with pytest.raises(RateLimited) as refused:
            await second.take(tenant)
        assert 999 < refused.value.retry_after_s <= 1000  # one token per 1000 s
        assert "across all server processes" in str(refused.value)
        assert await _taken(second, other, 3) == 3  # each tenant its own bucket
        assert first.fallbacks == second.fallbacks == 0
        for limiter in (first, second):
            await limiter.link.close()

    asyncio.run(run())
    assert redis_client(LIMITS_URL).pttl(bucket_key(tenant)) > 0  # an idle bucket does not stay


def test_concurrent_takes_never_grant_more_than_the_burst():
    redis_client(LIMITS_URL)
    tenant = f"t_{uuid.uuid4().hex}"

    async def run() -> int:
        limiters = [_limiter(LIMITS_URL, burst=50) for _ in range(4)]
        granted = await asyncio.gather(*(_taken(limiter, tenant, 40) for limiter in limiters))
        for limiter in limiters:
            await limiter.link.close()
        return sum(granted)

    assert asyncio.run(run()) == 50  # 160 asked at once by four limiters


def test_without_redis_each_limiter_falls_back_to_its_own_bucket():
    tenant = f"t_{uuid.uuid4().hex}"

    async def run() -> None:
        first, second = _limiter(closed_port_url()), _limiter(closed_port_url())
        assert await _taken(first, tenant, 5) == 3  # the local burst
        assert await _taken(second, tenant, 5) == 3  # its own, not shared
        assert first.fallbacks == second.fallbacks == 5
        assert first.link.failures == FAILURES_TO_OPEN  # then bypassed for the back-off
        for limiter in (first, second):
            await limiter.link.close()

    asyncio.run(run())


def test_two_server_processes_refuse_past_one_shared_burst(
    make_database: Callable[[str], Database],
):
    redis_client(LIMITS_URL)
    database = make_database("postgresql")
    settings = server_settings(
        database.async_url,
        rate_limit_per_second=0.001,
        rate_limit_burst=3,
        redis_url=LIMITS_URL,
        redis_timeout_ms=500,
    )
    servers = [ThreadedServer(settings), ThreadedServer(settings)]
    metadata = auth(make_token(f"t_{uuid.uuid4().hex[:16]}"))
    codes: list[grpc.StatusCode] = []
    try:
        for i in range(6):
            with grpc.insecure_channel(f"127.0.0.1:{servers[i % 2].port}") as channel:
                stub = customers_pb2_grpc.CustomerServiceStub(channel)
                try:
                    stub.ListCustomers(pb.ListCustomersRequest(page_size=1), metadata=metadata)
                    codes.append(grpc.StatusCode.OK)
                except grpc.RpcError as error:
                    codes.append(error.code())
                    status = rpc_status.from_call(error)
                    assert status is not None and "across all server processes" in status.message
    finally:
        for server in servers:
            server.stop()
    assert codes == [grpc.StatusCode.OK] * 3 + [grpc.StatusCode.RESOURCE_EXHAUSTED] * 3


def test_the_shared_bucket_refills_at_the_rate():
    redis_client(LIMITS_URL)
    tenant = f"t_{uuid.uuid4().hex}"

    async def run() -> None:
        limiter = _limiter(LIMITS_URL, rate=20.0, burst=2)  # a token every 50 ms
        assert await _taken(limiter, tenant, 2) == 2
        with pytest.raises(RateLimited) as refused:
            await limiter.take(tenant)
        assert 0 < refused.value.retry_after_s <= 0.05
        await asyncio.sleep(0.2)  # 4 tokens' worth, capped at the burst of 2
        assert await _taken(limiter, tenant, 5) == 2
        await limiter.link.close()

    asyncio.run(run())


def test_the_breaker_opens_after_three_failures_in_a_row_then_one_call_probes():
    now = [0.0]

    async def ping(client):  # type: ignore[no-untyped-def]
        return await client.ping()

    async def run() -> None:
        link = RedisLink(closed_port_url(), timeout_s=0.5, backoff_s=1.0, clock=lambda: now[0])
        for failed in range(1, FAILURES_TO_OPEN + 1):
            assert link.available  # not open before the third failure
            assert await link.run(ping) is None
            assert link.failures == failed
        assert not link.available
        assert await link.run(ping) is None  # bypassed: nothing sent
        assert (link.failures, link.bypassed) == (FAILURES_TO_OPEN, FAILURES_TO_OPEN + 1)
        now[0] += 1.0
        assert link.available
        assert await link.run(ping) is None  # the probe fails: open again at once
        assert link.failures == FAILURES_TO_OPEN + 1
        assert not link.available
        await link.close()

    asyncio.run(run())
