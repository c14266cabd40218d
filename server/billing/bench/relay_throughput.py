"""Relay throughput beside a bare aio-pika publisher, in the same run (ADR 0057):

    python -m billing.bench.relay_throughput --amqp amqp://guest:guest@127.0.0.1:5672/

Writes --events outbox events (one tenant, --aggregates resources) to a fresh database,
relays them to a fresh exchange with confirms (claims, CloudEvents, marks), then publishes
as many persistent messages of the same size with confirms, in batches of the same size, from
a bare aio-pika channel. Prints both rates as JSON. Run under `flock /tmp/bench.lock`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aio_pika

from billing.app.ids import new_id
from billing.app.records import OutboxEvent
from billing.relay.publisher import RabbitPublisher
from billing.relay.worker import OutboxRelay, RelayPolicy
from billing.store.engine import create_engine
from billing.store.migrate import upgrade
from billing.store.outbox_relay import SqlRelayStore
from billing.store.sql_store import SqlStore


async def _run(amqp: str, database_url: str, events: int, aggregates: int, batch: int) -> None:
    tag = uuid.uuid4().hex[:8]
    exchange, queue = f"bench.relay.{tag}", f"bench.relay.{tag}.all"
    engine = create_engine(database_url)
    at = datetime.now(UTC)
    async with SqlStore(engine).write(None) as tx:
        for i in range(events):
            payload = {"total_minor": 12_345 + i, "currency": "EUR", "n": i}
            resource = f"invoices/in_{i % aggregates}"
            await tx.outbox.add(
                OutboxEvent(new_id("evt"), "bench", "invoice.finalized", resource, payload, at)
            )
    connection = await aio_pika.connect(amqp)
    channel = await connection.channel(publisher_confirms=True)
    topic = await channel.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
    sink = await channel.declare_queue(queue, durable=True)
    await sink.bind(topic, "#")
    publisher = RabbitPublisher(amqp, exchange, f"{exchange}.dlx", confirm_timeout_s=30)
    relay = OutboxRelay(SqlRelayStore(engine), publisher, RelayPolicy(batch=batch))
    began = time.perf_counter()
    relayed = 0
    while (done := await relay.run_once()) != 0:
        relayed += max(done, 0)
    relay_s = time.perf_counter() - began
    await publisher.close()
    body = b"x" * 420  # about a relayed CloudEvent's size
    began = time.perf_counter()
    for start in range(0, events, batch):
        await asyncio.gather(
            *(
                topic.publish(
                    aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                    "invoice.finalized",
                )
                for _ in range(min(batch, events - start))
            )
        )
    bare_s = time.perf_counter() - began
    await sink.delete(if_unused=False, if_empty=False)
    await topic.delete()
    await connection.close()
    await engine.dispose()
    print(
        json.dumps(
            {
                "events": events,
                "relayed": relayed,
                "batch": batch,
                "database": database_url.split(":", 1)[0],
                "relay_events_per_s": round(relayed / relay_s),
                "bare_aio_pika_per_s": round(events / bare_s),
                "relay_s": round(relay_s, 2),
                "bare_s": round(bare_s, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--database-url", default="", help="migrated here; default temp SQLite")
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--aggregates", type=int, default=200)
    parser.add_argument("--batch", type=int, default=500)
    opts = parser.parse_args()
    url = opts.database_url or f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"
    upgrade(url)
    asyncio.run(_run(opts.amqp, url, opts.events, opts.aggregates, opts.batch))


if __name__ == "__main__":
    main()
