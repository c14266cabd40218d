"""GetEntitlements through the Redis hot cache (ADR 0066), on both databases and a real Redis:
every write that changes the answer is seen by the next read (a second server on the same
database, without Redis, answers the same throughout); a flush, a Redis that is not
listening, and a reader racing a writer never make a call answer a stale value."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc
import pytest

from billing.app.hot_cache import Entry
from billing.redis_link import FAILURES_TO_OPEN
from billing.store.hot_cache import RedisHotCache
from billing_client.v1 import subscriptions_pb2 as sp
from billing_fixtures import Billing
from conftest import Database, Tenant, ThreadedServer, auth, make_token, rule_files, server_settings
from redis_helpers import REDIS_URL, closed_port_url, redis_client

Features = dict[str, tuple[int | None, list[str]]]


@dataclass
class Servers:
    cached: ThreadedServer  # with Redis
    plain: ThreadedServer  # the same database, no Redis: the answer to compare with
    cached_channel: grpc.Channel
    plain_channel: grpc.Channel

    @property
    def cache(self) -> RedisHotCache:
        assert self.cached.runtime.hot_cache is not None
        return self.cached.runtime.hot_cache


@pytest.fixture(scope="module")
def servers(backend: str, make_database: Callable[[str], Database]) -> Iterator[Servers]:
    redis_client().flushdb()
    database = make_database(backend)
    # A generous timeout: these tests are about answers, not about a loaded machine's latency.
    cached = ThreadedServer(
        server_settings(database.async_url, redis_url=REDIS_URL, redis_timeout_ms=500)
    )
    plain = ThreadedServer(server_settings(database.async_url))
    with (
        grpc.insecure_channel(f"127.0.0.1:{cached.port}") as cached_channel,
        grpc.insecure_channel(f"127.0.0.1:{plain.port}") as plain_channel,
    ):
        yield Servers(cached, plain, cached_channel, plain_channel)
    cached.stop()
    plain.stop()


@pytest.fixture
def tenant_id() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@pytest.fixture
def billing(servers: Servers, tenant_id: str) -> Billing:
    return Billing(servers.cached_channel, auth(make_token(tenant_id)))


def _read(billing: Billing, customer: str) -> tuple[Features, str]:
    reply = billing.subs.GetEntitlements(
        sp.GetEntitlementsRequest(customer=customer), metadata=billing.metadata
    )
    features = {
        f.feature: (f.limit if f.HasField("limit") else None, sorted(f.subscriptions))
        for f in reply.features
    }
    return features, reply.rule_set


def _both(servers: Servers, billing: Billing, customer: str) -> Features:
    """The cached server's answer, asserted equal to the database's (the plain server)."""
    cached = _read(billing, customer)
    plain = _read(Billing(servers.plain_channel, billing.metadata), customer)
    assert cached == plain
    return cached[0]


def _cancel(billing: Billing, name: str, **how: bool) -> None:
    billing.subs.CancelSubscription(
        sp.CancelSubscriptionRequest(name=name, request_id=uuid.uuid4().hex, **how),
        metadata=billing.metadata,
    )


def _pro(*subs: str, seats: int = 50) -> Features:
    return {
        "api_access": (None, sorted(subs)),
        "reports": (None, sorted(subs)),
        "seats": (seats * len(subs), sorted(subs)),
    }


def test_every_write_is_seen_by_the_next_read(servers, billing):
    billing.push(rule_files())
    made = billing.customer()
    customer = made.name
    assert _both(servers, billing, customer) == {}
    hits = servers.cache.hits
    assert _both(servers, billing, customer) == {}
    assert servers.cache.hits == hits + 1  # the second read came from Redis

    pro = billing.subscribe(made, "basic_monthly")
    assert _both(servers, billing, customer) == {"reports": (None, [pro.name])}
    billing.change(pro, plan="pro_monthly")  # an upgrade: at once
    assert _both(servers, billing, customer) == _pro(pro.name)
    billing.subs.PauseSubscription(
        sp.PauseSubscriptionRequest(name=pro.name, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    assert _both(servers, billing, customer) == _pro(pro.name)
    billing.subs.ResumeSubscription(
        sp.ResumeSubscriptionRequest(name=pro.name, request_id=uuid.uuid4().hex),
        metadata=billing.metadata,
    )
    assert _both(servers, billing, customer) == _pro(pro.name)
    # A new rule set changes every customer's answer of the tenant at once.
    catalog = rule_files()["catalog.yaml"].decode().replace("limit: 50", "limit: 70")
    second = billing.subscribe(made, "pro_monthly")
    assert _both(servers, billing, customer) == _pro(pro.name, second.name)
    billing.push(rule_files(**{"catalog.yaml": catalog}))
    assert _both(servers, billing, customer) == _pro(pro.name, second.name, seats=70)
    _cancel(billing, second.name, immediately=True)
    assert _both(servers, billing, customer) == _pro(pro.name, seats=70)


def test_due_work_ending_a_subscription_is_seen(servers, billing):
    billing.push(rule_files())
    clock = billing.clock("2025-01-01T00:00:00Z")
    customer = billing.customer(clock)
    pro = billing.subscribe(customer, "pro_monthly")
    _cancel(billing, pro.name, at_period_end=True)
    assert _both(servers, billing, customer.name) == _pro(pro.name)  # until the period ends
    billing.advance(clock, "2025-03-01T00:00:00Z")  # the trial, then the first period
    assert _both(servers, billing, customer.name) == {}


def test_a_flush_between_calls_costs_only_a_miss(servers, billing):
    billing.push(rule_files())
    customer = billing.customer()
    pro = billing.subscribe(customer, "pro_monthly")
    assert _both(servers, billing, customer.name) == _pro(pro.name)
    redis_client().flushdb()
    assert _both(servers, billing, customer.name) == _pro(pro.name)
    redis_client().flushdb()
    _cancel(billing, pro.name, immediately=True)
    redis_client().flushdb()
    assert _both(servers, billing, customer.name) == {}
    assert _both(servers, billing, customer.name) == {}


def test_a_reader_between_its_read_and_its_store_cannot_undo_a_write(servers, billing):
    """The reader reads the database, then is held before its cache store; a write commits,
    invalidates and replies; the reader's store is refused, so the next read is the write's."""
    billing.push(rule_files())
    customer = billing.customer()
    pro = billing.subscribe(customer, "basic_monthly")
    reached, release = threading.Event(), threading.Event()
    held = f"ent:{customer.name.removeprefix('customers/')}"
    refused = servers.cache.refused

    async def hold(entry: Entry) -> None:
        if entry.name == held and not reached.is_set():
            reached.set()
            await asyncio.to_thread(release.wait, 30)

    servers.cache.before_put = hold
    try:
        with ThreadPoolExecutor(1) as pool:
            reader = pool.submit(_read, billing, customer.name)
            assert reached.wait(30)
            billing.change(pro, plan="pro_monthly")  # committed, invalidated, replied
            # Another read makes the scopes' tokens anew (and stores the new answer): the
            # held reader must still find its own tokens gone.
            assert _read(billing, customer.name)[0] == _pro(pro.name)
            release.set()
            assert reader.result(30)[0] == {"reports": (None, [pro.name])}  # read before it
    finally:
        servers.cache.before_put = None
    assert servers.cache.refused == refused + 1
    assert _both(servers, billing, customer.name) == _pro(pro.name)


def test_a_redis_that_is_not_listening_costs_three_failures_then_is_bypassed(
    backend: str, make_database: Callable[[str], Database]
):
    database = make_database(backend)
    server = ThreadedServer(
        server_settings(
            database.async_url,
            redis_url=closed_port_url(),
            redis_backoff_ms=60_000,
            metrics_listen="127.0.0.1:0",
        )
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            tenant = Tenant("t_" + uuid.uuid4().hex[:16], ())
            billing = Billing(channel, auth(make_token(tenant.id)))
            billing.push(rule_files())
            customer = billing.customer()
            pro = billing.subscribe(customer, "pro_monthly")
            started = time.perf_counter()
            for _ in range(20):
                assert _read(billing, customer.name)[0] == _pro(pro.name)
            elapsed = time.perf_counter() - started
            _cancel(billing, pro.name, immediately=True)
            assert _read(billing, customer.name)[0] == {}
        link = server.runtime.redis
        assert link is not None
        assert link.failures == FAILURES_TO_OPEN  # then the breaker bypassed Redis
        assert link.bypassed >= 20
        assert elapsed < 20 * 0.5  # no call waited on Redis (generous: a loaded machine)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{server.runtime.metrics_port}/metrics", timeout=10
        ) as page:
            scraped = page.read().decode()
        assert f"billing_redis_failures_total {float(FAILURES_TO_OPEN)}" in scraped.splitlines()
        assert f"billing_redis_bypassed_total {float(link.bypassed)}" in scraped.splitlines()
        assert 'billing_hot_cache_lookups_total{outcome="hit"} 0.0' in scraped.splitlines()
    finally:
        server.stop()
