"""Publishing to RabbitMQ with aio-pika: publisher confirms, persistent messages, a durable
topic exchange keyed by event type, mandatory routing, and a dead-letter exchange (ADR 0057).

One connection and one confirming channel; any connection or channel failure drops both and
the next batch reconnects (the relay backs off between failures), so a broker restart costs
a reconnect and a republished batch, never an event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange
from aio_pika.exceptions import DeliveryError, PublishError

log = logging.getLogger("billing.relay")

DEAD_LETTER_QUEUE_SUFFIX = ".dead"


@dataclass(frozen=True)
class Outgoing:
    id: str
    routing_key: str  # the event type, e.g. invoice.finalized
    body: bytes  # the CloudEvent, structured JSON
    type: str
    time: datetime


@dataclass
class BatchResult:
    """The longest prefix of the batch the broker took (confirmed, or refused and then
    dead-lettered); `dead`: id -> why. What follows a failure is left for the next batch, so
    an aggregate's events are never confirmed out of order."""

    done: int = 0
    dead: dict[str, str] = field(default_factory=dict)
    error: BaseException | None = None


class RabbitPublisher:
    def __init__(
        self, url: str, exchange: str, dead_letter_exchange: str, confirm_timeout_s: float
    ) -> None:
        self._url = url
        self._exchange_name = exchange
        self._dlx_name = dead_letter_exchange
        self._timeout = confirm_timeout_s
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._dlx: AbstractExchange | None = None

    async def _ready(self) -> tuple[AbstractExchange, AbstractExchange]:
        if (
            self._exchange is None
            or self._dlx is None
            or self._channel is None
            or self._channel.is_closed
        ):
            await self.close()
            self._connection = await aio_pika.connect(self._url, timeout=self._timeout)
            self._channel = await self._connection.channel(
                publisher_confirms=True, on_return_raises=True
            )
            self._exchange = await self._channel.declare_exchange(
                self._exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
            )
            self._dlx = await self._channel.declare_exchange(
                self._dlx_name, aio_pika.ExchangeType.FANOUT, durable=True
            )
            queue = await self._channel.declare_queue(
                self._dlx_name + DEAD_LETTER_QUEUE_SUFFIX, durable=True
            )
            await queue.bind(self._dlx)
            log.info("relay connected to the broker")
        return self._exchange, self._dlx

    async def connect(self) -> None:
        """Connect (and declare) unless connected; raises when the broker cannot be reached.
        The relay calls it before claiming, so no claim waits on a connect."""
        try:
            await self._ready()
        except BaseException:
            await self.close()
            raise

    def _open(self) -> bool:
        return self._channel is not None and not self._channel.is_closed

    async def publish(self, batch: Sequence[Outgoing]) -> BatchResult:
        """Publish in order on one channel (the broker keeps a channel's order), awaiting
        the confirms together."""
        result = BatchResult()
        try:
            exchange, dlx = await self._ready()
        except Exception as exc:  # the connection broke since connect(): retried later
            await self.close()
            result.error = exc
            return result
        outcomes = await asyncio.gather(
            *(self._publish_one(exchange, item) for item in batch), return_exceptions=True
        )
        for item, outcome in zip(batch, outcomes, strict=True):
            reason, failure = _refused(outcome), outcome
            if reason is not None:
                try:
                    await self._dead_letter(dlx, item, reason)
                except Exception as exc:  # the broker went away: retried
                    failure = exc
                else:
                    result.dead[item.id] = reason
                    result.done += 1
                    continue
            if isinstance(failure, BaseException):
                result.error = failure
                await self.close()
                break
            result.done += 1
        return result

    async def _publish_one(self, exchange: AbstractExchange, item: Outgoing) -> object:
        return await exchange.publish(
            _message(item, {}), item.routing_key, mandatory=True, timeout=self._timeout
        )

    async def _dead_letter(self, dlx: AbstractExchange, item: Outgoing, reason: str) -> None:
        log.warning("relay: broker refused %s (%s): dead-lettered", item.id, reason)
        headers: dict[str, aio_pika.abc.FieldValue] = {"x-billing-refused": reason}
        await dlx.publish(_message(item, headers), item.routing_key, mandatory=True,
                          timeout=self._timeout)  # fmt: skip

    async def close(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = self._dlx = None
        if connection is not None:
            try:
                await connection.close()
            except Exception:
                log.debug("relay: closing a broken connection", exc_info=True)


def _refused(outcome: object) -> str | None:
    """Why the broker refused a message it received, or None (taken, or never answered)."""
    if isinstance(outcome, PublishError):
        return "unroutable"  # returned: no queue is bound for its routing key
    if isinstance(outcome, DeliveryError):
        return "nacked"
    return None


def _message(item: Outgoing, headers: dict[str, aio_pika.abc.FieldValue]) -> aio_pika.Message:
    return aio_pika.Message(
        item.body,
        content_type="application/cloudevents+json",
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=item.id,
        type=item.type,
        timestamp=item.time.astimezone(UTC),
        app_id="billing",
        headers=headers,
    )
