"""The relay loop every server process runs when BILLING_RELAY_URL is set: claim a shard's
oldest unpublished events (a bounded batch), publish them with confirms, mark the confirmed
prefix relayed, repeat; idle, poll; failing (broker down, connection lost), back off with full
jitter and reconnect. At least once: an event is marked only after its confirm, so a crash
between confirm and mark publishes it again (consumers deduplicate by CloudEvents id)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from billing.app.backoff import full_jitter
from billing.relay.envelope import Unencodable, cloud_event, encode
from billing.relay.publisher import Outgoing, RabbitPublisher
from billing.store.outbox_relay import PendingEvent, SqlRelayStore

log = logging.getLogger("billing.relay")


@dataclass
class RelayStats:
    published: int = 0
    dead_lettered: int = 0
    failures: int = 0


@dataclass(frozen=True)
class RelayPolicy:
    batch: int = 500  # events per claim: what a relay holds in memory at once
    poll_s: float = 0.2  # idle: how often it looks for new events
    backoff_base_s: float = 0.1
    backoff_max_s: float = 5.0


class OutboxRelay:
    def __init__(
        self, store: SqlRelayStore, publisher: RabbitPublisher, policy: RelayPolicy
    ) -> None:
        self._store = store
        self._publisher = publisher
        self._policy = policy
        self.stats = RelayStats()

    async def run_forever(self) -> None:
        failures = 0
        try:
            while True:
                try:
                    relayed = await self.run_once()
                except Exception as exc:  # the database or the broker: retried with backoff
                    log.warning("relay: batch failed: %r", exc)
                    log.debug("relay: batch failed", exc_info=True)
                    relayed = -1
                if relayed < 0:
                    failures += 1
                    self.stats.failures += 1
                    p = self._policy
                    await asyncio.sleep(full_jitter(failures, p.backoff_base_s, p.backoff_max_s))
                    continue
                failures = 0
                if relayed == 0:
                    await asyncio.sleep(self._policy.poll_s)
        finally:
            await self._publisher.close()

    async def run_once(self) -> int:
        """One claimed batch: how many events left the outbox, 0 when none waited, -1 when the
        broker failed part way (the confirmed prefix is still marked)."""
        await self._publisher.connect()  # before the claim: a down broker holds no shard
        async with self._store.claim(self._policy.batch) as claim:
            if claim is None or not claim.events:
                return 0
            batch = _encodable_prefix(claim.events)
            if not batch:  # the oldest cannot be a CloudEvent: recorded, so it blocks no one
                poison = claim.events[0]
                log.error("relay: %s cannot be encoded; recorded as dead", poison.id)
                await claim.mark([poison], {poison.id: UNENCODABLE}, datetime.now(UTC))
                self.stats.dead_lettered += 1
                return 1
            result = await self._publisher.publish(batch)
            done = claim.events[: result.done]
            await claim.mark(done, result.dead, datetime.now(UTC))
        self.stats.published += len(done) - len(result.dead)
        self.stats.dead_lettered += len(result.dead)
        if result.error is not None:
            log.warning("relay: broker failed after %d of a batch: %r", len(done), result.error)
            return -1
        return len(done)


UNENCODABLE = "unencodable"  # a payload its event's message refuses (never published)


def _encodable_prefix(events: list[PendingEvent]) -> list[Outgoing]:
    """The batch's events up to the first that cannot be encoded (kept for a batch of its own)."""
    prefix: list[Outgoing] = []
    for event in events:
        try:
            prefix.append(_outgoing(event))
        except Unencodable:
            break
    return prefix


def _outgoing(event: PendingEvent) -> Outgoing:
    envelope = cloud_event(
        event_id=event.id,
        tenant_id=event.tenant_id,
        event_type=event.type,
        resource_name=event.resource_name,
        payload=event.payload,
        occurred_at=event.occurred_at,
    )
    return Outgoing(event.id, event.type, encode(envelope), envelope["type"], event.occurred_at)
