"""The outbox relay (ADR 0057) against a RabbitMQ node the test starts, stops and starts
again: 10,000 events committed while the relay runs, the broker stopped in the middle; every
event reaches the consumer, none is lost, a consumer deduplicating by CloudEvents id sees each
once, and each aggregate's events arrive in commit order. Also: refused events are
dead-lettered, and the envelope is CloudEvents."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import grpc
import pytest
import sqlalchemy as sa

from billing.app.ids import new_id
from billing.app.records import OutboxEvent
from billing.config import Settings, SettingsError
from billing.relay.publisher import RabbitPublisher
from billing.relay.worker import OutboxRelay, RelayPolicy
from billing.runtime import Runtime
from billing.store.engine import create_engine
from billing.store.outbox_relay import SqlRelayStore
from billing.store.sql_store import SqlStore
from billing_client.v1 import customers_pb2, customers_pb2_grpc
from conftest import Tenant, ThreadedServer, server_settings
from rabbit_broker import RabbitNode, available

pytestmark = pytest.mark.skipif(not available(), reason="rabbitmq-server is not installed")

EVENTS = 10_000
AGGREGATES = 200
PER_TX = 100
FAMILIES = ("invoice.finalized", "payment.received", "subscription.suspended", "customer.updated")
TENANT = "relaytest"
TEST_POLICY = RelayPolicy(batch=500, poll_s=0.05, backoff_base_s=0.05, backoff_max_s=1.0)


@pytest.fixture(scope="module")
def rabbit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RabbitNode]:
    node = RabbitNode(Path(tmp_path_factory.mktemp("rabbit")))
    node.start()
    try:
        yield node
    finally:
        node.kill()


class DedupConsumer:
    """Reconnects on its own after any failure, re-declaring its durable queue and binding;
    acks each message after recording it; deduplicates by CloudEvents id."""

    def __init__(self, url: str, exchange: str, queue: str, keys: tuple[str, ...]) -> None:
        self.url, self.exchange, self.queue, self.keys = url, exchange, queue, keys
        self.deliveries = 0  # every delivery, duplicates included
        self.events: dict[str, dict[str, Any]] = {}  # id -> first delivery's CloudEvent
        self.processed: list[str] = []  # what the deduplicating consumer processed, in order
        self.connects = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                async with await aio_pika.connect(self.url, timeout=2) as conn:
                    channel = await conn.channel()
                    await channel.set_qos(prefetch_count=500)
                    exchange = await channel.declare_exchange(
                        self.exchange, aio_pika.ExchangeType.TOPIC, durable=True
                    )
                    queue = await channel.declare_queue(self.queue, durable=True)
                    for key in self.keys:
                        await queue.bind(exchange, key)
                    self.connects += 1
                    self.ready.set()
                    async with queue.iterator() as messages:
                        async for message in messages:
                            self._record(message.body)
                            await message.ack()
            except asyncio.CancelledError:
                raise
            except Exception:  # the broker went away: reconnect
                await asyncio.sleep(0.2)
            else:
                await asyncio.sleep(0.2)  # the iterator ended with the channel: reconnect

    def _record(self, body: bytes) -> None:
        self.deliveries += 1
        event = json.loads(body)
        if event["id"] in self.events:
            return  # a redelivery or a republished event: already processed
        self.events[event["id"]] = event
        self.processed.append(event["id"])


async def _write_events(
    store: SqlStore, hold_at: int = EVENTS, resume: asyncio.Event | None = None
) -> dict[str, tuple[str, int]]:
    """EVENTS events over AGGREGATES aggregates, PER_TX to a transaction, committed one after
    another: each aggregate's `n` counts up in commit order. id -> (aggregate, n). From event
    `hold_at` on it waits for `resume` first."""
    written: dict[str, tuple[str, int]] = {}
    counts: dict[str, int] = defaultdict(int)
    at = datetime(2026, 12, 6, tzinfo=UTC)
    for start in range(0, EVENTS, PER_TX):
        if start >= hold_at and resume is not None:
            await resume.wait()
        async with store.write(None) as tx:
            for i in range(start, start + PER_TX):
                aggregate = f"{FAMILIES[i % len(FAMILIES)].split('.')[0]}s/agg_{i % AGGREGATES}"
                kind = FAMILIES[i % len(FAMILIES)]
                event = OutboxEvent(
                    new_id("evt"), TENANT, kind, aggregate, {"n": counts[aggregate]}, at
                )
                written[event.id] = (aggregate, counts[aggregate])
                counts[aggregate] += 1
                await tx.outbox.add(event)
        await asyncio.sleep(0)
    return written


async def _until(condition: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def test_broker_restart_mid_relay_loses_nothing_and_keeps_order(backend, make_database, rabbit):
    database = make_database(backend)
    asyncio.run(_broker_restart(database.async_url, backend, rabbit))


async def _broker_restart(url: str, backend: str, rabbit: RabbitNode) -> None:
    exchange, queue = f"restart.{backend}", f"restart.{backend}.all"
    consumer = DedupConsumer(rabbit.url, exchange, queue, ("#",))
    consuming = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.ready.wait(), 10)  # the queue exists before any publish
    engines = [create_engine(url) for _ in range(2 if backend == "postgresql" else 1)]
    store = SqlStore(engines[0])
    relays = [
        OutboxRelay(
            SqlRelayStore(engine),
            RabbitPublisher(rabbit.url, exchange, f"{exchange}.dlx", confirm_timeout_s=5),
            TEST_POLICY,
        )
        for engine in engines  # PostgreSQL: two relays, as two server processes, no leader
    ]
    relaying = [asyncio.create_task(relay.run_forever()) for relay in relays]
    began = time.monotonic()
    try:
        # The last fifth is written once the broker is down, however long its stop takes
        # (15-18 s on a loaded machine, by when the relays had caught up with the rest): the
        # relays meet the outage with work left, always.
        down = asyncio.Event()
        writing = asyncio.create_task(_write_events(store, EVENTS * 4 // 5, down))
        await _until(lambda: len(consumer.events) >= 2_000, 30, "2,000 events relayed")
        stopped_after = time.monotonic() - began
        stop_s = await asyncio.to_thread(rabbit.stop)
        down.set()
        written = await writing
        backlog_at_stop = await SqlRelayStore(engines[0]).backlog()
        seen_at_stop = len(consumer.events)
        await asyncio.sleep(1.0)  # relays and consumer fail, back off and retry meanwhile
        start_s = await asyncio.to_thread(rabbit.start)
        await _until(lambda: len(consumer.events) >= EVENTS, 45, "every event consumed")
        total_s = time.monotonic() - began
        # The consumer may see an event before its relay has marked it (confirm, then mark).
        backlog = SqlRelayStore(engines[0])
        for _ in range(100):
            if (backlog_after := await backlog.backlog()) == 0:
                break
            await asyncio.sleep(0.1)
    finally:
        for task in (*relaying, consuming):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    failures = sum(relay.stats.failures for relay in relays)
    print(
        f"\n{backend}: {EVENTS} events; broker stopped with {seen_at_stop} consumed and "
        f"{backlog_at_stop} not yet relayed; deliveries {consumer.deliveries} "
        f"(duplicates {consumer.deliveries - len(consumer.events)}); relay failures {failures};"
        f" consumer connections {consumer.connects}; stopped at {stopped_after:.1f} s, stop took"
        f" {stop_s:.1f} s, start {start_s:.1f} s, all consumed at {total_s:.1f} s"
    )
    # The broker really went away while the relay had work left.
    assert backlog_at_stop > 0
    assert seen_at_stop < EVENTS
    assert failures > 0
    assert consumer.connects >= 2  # the consumer reconnected on its own
    # At least once, none lost, none invented; the deduplicating consumer saw each once.
    assert set(consumer.events) == set(written)
    assert consumer.deliveries >= EVENTS
    assert len(consumer.processed) == len(set(consumer.processed)) == EVENTS
    # Per aggregate, in commit order.
    order: dict[str, list[int]] = defaultdict(list)
    for event_id in consumer.processed:
        aggregate, n = written[event_id]
        order[aggregate].append(n)
    assert len(order) == AGGREGATES
    assert all(ns == list(range(len(ns))) for ns in order.values())
    # The outbox knows every event left it, none refused.
    assert backlog_after == 0
    rows = await _rows(engines[0])
    assert rows == {"published": EVENTS, "dead": 0}
    for engine in engines:
        await engine.dispose()


async def _rows(engine: Any) -> dict[str, int]:
    async with engine.connect() as conn:
        published = await conn.scalar(
            sa.text("SELECT count(*) FROM outbox_events WHERE published_at IS NOT NULL")
        )
        dead = await conn.scalar(
            sa.text("SELECT count(*) FROM outbox_events WHERE dead_letter IS NOT NULL")
        )
    return {"published": int(published), "dead": int(dead)}


async def _drain(url: str, queue: str, expected: int, timeout_s: float = 10) -> list[Any]:
    """Up to `expected` messages of a durable queue, acked."""
    got: list[Any] = []
    async with await aio_pika.connect(url) as conn:
        channel = await conn.channel()
        q = await channel.declare_queue(queue, passive=True)  # as its owner declared it
        deadline = time.monotonic() + timeout_s
        while len(got) < expected and time.monotonic() < deadline:
            message = await q.get(fail=False)
            if message is None:
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            got.append(message)
    return got


def test_refused_events_are_dead_lettered_and_the_rest_are_cloudevents(
    backend, make_database, rabbit
):
    database = make_database(backend)
    asyncio.run(_dead_letters(database.async_url, backend, rabbit))


async def _dead_letters(url: str, backend: str, rabbit: RabbitNode) -> None:
    exchange, queue = f"dlx.{backend}", f"dlx.{backend}.invoices"
    consumer = DedupConsumer(rabbit.url, exchange, queue, ("invoice.*",))  # invoices only
    consuming = asyncio.create_task(consumer.run())
    await asyncio.wait_for(consumer.ready.wait(), 10)
    engine = create_engine(url)
    at = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
    paid = OutboxEvent(new_id("evt"), TENANT, "invoice.paid", "invoices/in_1",
                       {"number": "INV-1", "paid_minor": 9_007_199_254_740_993}, at)  # fmt: skip
    posted = OutboxEvent(new_id("evt"), TENANT, "ledger.entry_posted", "journalEntries/je_1",
                         {"memo": "no queue is bound for ledger.*"}, at)  # fmt: skip
    # A queue that is full and refuses more: the broker nacks the second refund event.
    refunds = [
        OutboxEvent(new_id("evt"), TENANT, "refund.succeeded", "refunds/rf_1", {"n": n}, at)
        for n in range(2)
    ]
    async with await aio_pika.connect(rabbit.url) as conn:
        channel = await conn.channel()
        topic = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        full = await channel.declare_queue(
            f"dlx.{backend}.full",
            durable=True,
            arguments={"x-max-length": 1, "x-overflow": "reject-publish"},
        )
        await full.bind(topic, "refund.*")
    # A payload no message takes (details must be an object): recorded, never published, and
    # its aggregate's later event still goes out.
    poison = OutboxEvent(new_id("evt"), TENANT, "invoice.paid", "invoices/in_2", [1, 2], at)  # type: ignore[arg-type]
    after_poison = OutboxEvent(new_id("evt"), TENANT, "invoice.paid", "invoices/in_2", {}, at)
    async with SqlStore(engine).write(None) as tx:
        for event in (paid, posted, *refunds, poison, after_poison):
            await tx.outbox.add(event)
    relay = OutboxRelay(
        SqlRelayStore(engine),
        RabbitPublisher(rabbit.url, exchange, f"{exchange}.dlx", confirm_timeout_s=5),
        TEST_POLICY,
    )
    try:
        relayed = [await relay.run_once() for _ in range(6)]  # a shard a claim; the poison alone
        assert sum(relayed) == 6
        assert await relay.run_once() == 0
        await _until(lambda: len(consumer.events) == 2, 10, "the invoice events")
    finally:
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
        await relay._publisher.close()
    assert relay.stats.published == 3  # the invoice events, the first refund event
    assert relay.stats.dead_lettered == 3  # unroutable, nacked, unencodable
    assert set(consumer.events) == {paid.id, after_poison.id}
    assert consumer.events[paid.id] == {
        "specversion": "1.0",
        "id": paid.id,
        "source": f"//billing/tenants/{TENANT}",
        "type": "billing.v1.invoice.paid",
        "time": "2026-12-06T10:30:00Z",
        "subject": "invoices/in_1",
        "datacontenttype": "application/json",
        # Minor units stay exact JSON integers, past what a double holds.
        "data": {
            "name": "invoices/in_1",
            "details": {"number": "INV-1", "paid_minor": 9_007_199_254_740_993},
        },
    }
    dead = await _drain(rabbit.url, f"{exchange}.dlx.dead", 2)
    assert sorted((m.message_id, m.routing_key, m.headers) for m in dead) == sorted([
        (posted.id, "ledger.entry_posted", {"x-billing-refused": "unroutable"}),
        (refunds[1].id, "refund.succeeded", {"x-billing-refused": "nacked"}),
    ])  # fmt: skip
    kept = await _drain(rabbit.url, f"dlx.{backend}.full", 2, timeout_s=1)
    assert [m.message_id for m in kept] == [refunds[0].id]
    assert {m.delivery_mode for m in dead} == {aio_pika.DeliveryMode.PERSISTENT}
    assert {json.loads(m.body)["type"] for m in dead} == {
        "billing.v1.ledger.entry_posted",
        "billing.v1.refund.succeeded",
    }
    async with engine.connect() as conn:
        rows = (
            await conn.execute(
                sa.text(
                    "SELECT id, dead_letter, published_at IS NOT NULL FROM outbox_events"
                    " WHERE tenant_id = :t AND id IN (:a, :b, :c, :d, :e)"
                ),
                {
                    "t": TENANT,
                    "a": paid.id,
                    "b": posted.id,
                    "c": refunds[0].id,
                    "d": refunds[1].id,
                    "e": poison.id,
                },
            )
        ).all()
    assert sorted(tuple(r) for r in rows) == sorted([
        (paid.id, None, True),
        (posted.id, "unroutable", True),
        (refunds[0].id, None, True),
        (refunds[1].id, "nacked", True),
        (poison.id, "unencodable", True),
    ])  # fmt: skip
    await engine.dispose()


def test_every_server_process_relays_when_a_broker_is_configured(
    backend, make_database, rabbit, tenant
):
    """The relay runs inside the server (Runtime) once BILLING_RELAY_URL is set: a customer
    created through the API reaches a consumer as billing.v1.customer.created."""
    exchange, queue = f"server.{backend}", f"server.{backend}.customers"
    database = make_database(backend)
    assert Runtime(server_settings(database.async_url)).relay is None  # off without a URL
    server = ThreadedServer(
        server_settings(database.async_url, relay_url=rabbit.url, relay_exchange=exchange)
    )
    try:
        with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            received = asyncio.run(
                _create_and_consume(channel, rabbit.url, exchange, queue, tenant)
            )
    finally:
        server.stop()
    customer_name, events = received
    assert [(e["type"], e["subject"], e["source"]) for e in events] == [
        ("billing.v1.customer.created", customer_name, f"//billing/tenants/{tenant.id}")
    ]
    assert events[0]["data"]["details"]["customer"]["display_name"] == "Relay GmbH"


async def _create_and_consume(
    channel: grpc.Channel, url: str, exchange: str, queue: str, tenant: Tenant
) -> tuple[str, list[dict[str, Any]]]:
    consumer = DedupConsumer(url, exchange, queue, ("customer.created",))
    consuming = asyncio.create_task(consumer.run())
    try:
        await asyncio.wait_for(consumer.ready.wait(), 10)
        stub = customers_pb2_grpc.CustomerServiceStub(channel)
        request = customers_pb2.CreateCustomerRequest(
            customer=customers_pb2.Customer(
                display_name="Relay GmbH", email="ops@relay.example", currency_code="EUR"
            ),
            request_id=new_id("req"),
        )
        created = await asyncio.to_thread(stub.CreateCustomer, request, metadata=tenant.metadata)
        await _until(lambda: len(consumer.events) >= 1, 15, "the customer.created event")
        await asyncio.sleep(0.3)  # nothing more arrives
    finally:
        consuming.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consuming
    return created.name, [consumer.events[i] for i in consumer.processed]


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"BILLING_RELAY_URL": "http://127.0.0.1:5672/"}, "BILLING_RELAY_URL"),
        ({"BILLING_RELAY_BATCH": "0"}, "BILLING_RELAY_BATCH"),
        ({"BILLING_RELAY_CONFIRM_TIMEOUT_SECONDS": "0"}, "BILLING_RELAY_CONFIRM_TIMEOUT_SECONDS"),
    ],
)
def test_relay_settings_are_checked(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)
    assert Settings.from_env({}).relay_url == ""  # off by default: no broker needed


def test_events_written_before_the_relay_get_their_shard_and_order(backend, make_database):
    """Migration 0026: unpublished events already in the outbox get their aggregate's shard
    (so they and the aggregate's later events share one publisher) and, on PostgreSQL, a
    sequence in id order; published ones are left alone."""
    from alembic import command

    from billing.store.migrate import alembic_config, upgrade
    from billing.store.records import RELAY_SHARDS, relay_shard

    database = make_database(backend)
    command.downgrade(alembic_config(database.async_url), "0031")  # to just before 0026
    at = datetime(2026, 12, 1, tzinfo=UTC)
    rows = [
        ("evt_01", "invoices/in_1", None),
        ("evt_02", "customers/cus_9", None),
        ("evt_03", "invoices/in_1", at),  # already published (by hand)
    ]
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            for event_id, resource, published in rows:
                conn.execute(
                    sa.text(
                        "INSERT INTO outbox_events (tenant_id, id, event_type, resource_name,"
                        " payload, occurred_at, published_at) VALUES ('t1', :i, 'x.y', :r, '{\"n\": 0}',"
                        " :at, :p)"
                    ),
                    {"i": event_id, "r": resource, "at": at, "p": published},
                )
        upgrade(database.async_url)
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT id, shard, seq FROM outbox_events ORDER BY id")
            ).all()
            shards = conn.scalar(sa.text("SELECT count(*) FROM outbox_relay_shards"))
    finally:
        engine.dispose()
    assert [(r[0], r[1]) for r in found] == [
        ("evt_01", relay_shard("t1", "invoices/in_1")),
        ("evt_02", relay_shard("t1", "customers/cus_9")),
        ("evt_03", 0),
    ]
    assert shards == RELAY_SHARDS
    if backend == "postgresql":
        assert [r[2] for r in found] == [1, 2, 3]
