"""WatchEvents: a tenant's outbox events as a resumable stream (ADR 0059). Raises
InvalidArgument, CursorExpired, TooManyStreams.

The stream's order is the store's position (writing transaction, sequence). The store only
hands out positions up to its *settled* mark: no transaction still running can write a row
at or below it (PostgreSQL: below the oldest running transaction id; SQLite: the counter,
one writer). So "every event after position P" is final once read, and a cursor is just the
last position delivered: resuming from it neither skips nor repeats.

Bounded: a stream holds at most one page (`batch_events`) of events; each answer is handed
to gRPC and the next waits for it (flow control reaches the reads); an idle stream costs one
query per poll interval; a tenant may have `streams_per_tenant` open per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from billing.app.context import CallContext
from billing.app.records import OutboxEvent
from billing.domain.errors import CursorExpired, InvalidArgument, TooManyStreams, Violations
from billing.domain.text import check_text

CURSOR_PREFIX = "es1"
_CURSOR = re.compile(r"es1\.(\d{1,19})\.(\d{1,19})")
POSITION_MAX = 2**63 - 1
MAX_EVENT_TYPE = 64  # outbox_events.event_type
MAX_RESOURCE_NAME = 128  # outbox_events.resource_name
MAX_EVENT_TYPES = 20
# A stream whose filters skip everything still tells the caller how far it read, at most
# this often, so a resumed call does not read the skipped events again.
CHECKPOINT_EVERY_S = 5.0
# A call with a deadline ends OK this long before it (at most a fifth of its time), with
# its cursor sent, rather than running into DEADLINE_EXCEEDED.
DEADLINE_MARGIN_S = 1.0


@dataclass(frozen=True, order=True)
class Position:
    """Where an event sits in the stream; positions only grow."""

    xid: int
    seq: int


START = Position(0, 0)


def format_cursor(position: Position) -> str:
    return f"{CURSOR_PREFIX}.{position.xid}.{position.seq}"


def parse_cursor(cursor: str) -> Position:
    match = _CURSOR.fullmatch(cursor)
    if match is None:
        raise InvalidArgument.single("cursor", "is not a cursor this server issued")
    position = Position(int(match[1]), int(match[2]))
    if position.xid > POSITION_MAX or position.seq > POSITION_MAX:
        raise InvalidArgument.single("cursor", "is not a cursor this server issued")
    return position


@dataclass(frozen=True)
class StreamedEvent:
    position: Position
    event: OutboxEvent


@dataclass(frozen=True)
class StreamPage:
    """Up to `limit` events after a position, in order; `reached` is how far the page read:
    the last event's position when the page is full, else the settled mark (everything up to
    it has been read). `floor` is read after the events: a prune that removed events past
    the position meanwhile has raised it past the position (delete and floor commit
    together), so a floor at or below the position means the page lost nothing."""

    events: list[StreamedEvent]
    reached: Position
    floor: Position


class EventStreamStore(Protocol):
    async def settled(self) -> Position:
        """The highest position no running transaction can still write at or below."""
        ...

    async def page(self, tenant_id: str, after: Position, limit: int) -> StreamPage:
        """The tenant's events after `after` up to the settled mark, at most `limit`, and
        the floor read after them."""
        ...

    async def floor(self, tenant_id: str) -> Position:
        """Events at or below this may have been pruned (START: none)."""
        ...

    async def prunable_tenants(self, before: datetime, limit: int) -> list[str]:
        """Tenants with published events that occurred before `before` (at most `limit`)."""
        ...

    async def prune(self, tenant_id: str, before: datetime, limit: int) -> int:
        """Deletes at most `limit` events of the tenant's stream prefix that is settled,
        published and older than `before`, and raises its floor past them, in one
        transaction; returns how many were deleted."""
        ...


@dataclass(frozen=True)
class WatchRequest:
    cursor: str
    event_types: tuple[str, ...]
    resource: str
    start_at_end: bool
    stop_when_caught_up: bool


@dataclass(frozen=True)
class Delivery:
    """One answer: an event, or (event None) a checkpoint."""

    event: OutboxEvent | None
    cursor: str


@dataclass(frozen=True)
class StreamLimits:
    poll_interval_s: float
    batch_events: int
    streams_per_tenant: int
    retention: timedelta | None = None  # None: events are kept forever


PRUNE_BATCH_ROWS = 1000  # events deleted per transaction: a backlog never makes one huge
PRUNE_TENANTS = 100  # tenants looked at per round


def check_request(request: WatchRequest) -> None:
    v = Violations()
    if len(request.event_types) > MAX_EVENT_TYPES:
        v.add("event_types", f"must have at most {MAX_EVENT_TYPES} entries")
    for i, event_type in enumerate(request.event_types):
        check_text(f"event_types[{i}]", event_type, MAX_EVENT_TYPE, v)
        if not event_type:
            v.add(f"event_types[{i}]", "must not be empty")
    check_text("resource", request.resource, MAX_RESOURCE_NAME, v)
    if request.cursor and request.start_at_end:
        v.add("start_at_end", "must not be set with a cursor (the cursor says where to start)")
    v.raise_if_any()


class StreamSlots:
    """Open streams per tenant in this process; past the cap a new one is refused."""

    def __init__(self, per_tenant: int) -> None:
        self.per_tenant = per_tenant
        self._open: dict[str, int] = {}

    @contextlib.contextmanager
    def hold(self, tenant_id: str) -> Iterator[None]:
        held = self._open.get(tenant_id, 0)
        if held >= self.per_tenant:
            raise TooManyStreams(self.per_tenant)
        self._open[tenant_id] = held + 1
        try:
            yield
        finally:
            left = self._open[tenant_id] - 1
            if left:
                self._open[tenant_id] = left
            else:
                del self._open[tenant_id]

    def open(self, tenant_id: str) -> int:
        return self._open.get(tenant_id, 0)


class EventStream:
    def __init__(self, store: EventStreamStore, limits: StreamLimits) -> None:
        self._store = store
        self._limits = limits
        self.slots = StreamSlots(limits.streams_per_tenant)
        self._closing = False

    def close(self) -> None:
        """The server is stopping: open streams send their cursor and end OK within a poll,
        so their callers resume on another process instead of being cut at the grace's end."""
        self._closing = True

    async def watch(
        self, ctx: CallContext, request: WatchRequest, time_remaining_s: float | None
    ) -> AsyncIterator[Delivery]:
        check_request(request)
        with self.slots.hold(ctx.tenant_id):
            async for delivery in self._watch(ctx.tenant_id, request, _end_at(time_remaining_s)):
                yield delivery

    async def prune_expired(self, now: datetime) -> int:
        """Deletes published events older than the retention, oldest first per tenant, in
        bounded transactions; returns how many. Unpublished events stay (the relay needs
        them), and so does everything after the first one."""
        if self._limits.retention is None:
            return 0
        before = now - self._limits.retention
        total = 0
        for tenant_id in await self._store.prunable_tenants(before, PRUNE_TENANTS):
            while True:
                deleted = await self._store.prune(tenant_id, before, PRUNE_BATCH_ROWS)
                total += deleted
                if deleted < PRUNE_BATCH_ROWS:
                    break
        return total

    async def _start(self, tenant_id: str, request: WatchRequest) -> Position:
        floor = await self._store.floor(tenant_id)
        if request.start_at_end:
            return max(await self._store.settled(), floor)
        if not request.cursor:
            return floor
        position = parse_cursor(request.cursor)
        if position < floor:
            raise CursorExpired
        if position > await self._store.settled():
            raise InvalidArgument.single("cursor", "is ahead of this server's events")
        return position

    async def _watch(
        self, tenant_id: str, request: WatchRequest, end_at: float | None
    ) -> AsyncIterator[Delivery]:
        position = await self._start(tenant_id, request)
        types = frozenset(request.event_types)
        sent = position  # the last cursor the caller has
        last_answer = time.monotonic()
        while True:
            read_at = time.monotonic()
            page = await self._store.page(tenant_id, position, self._limits.batch_events)
            read_s = time.monotonic() - read_at
            if page.floor > position:
                raise CursorExpired
            for streamed in page.events:
                if _matches(streamed.event, types, request.resource):
                    sent = streamed.position
                    last_answer = time.monotonic()
                    yield Delivery(streamed.event, format_cursor(sent))
            position = max(position, page.reached)
            if len(page.events) >= self._limits.batch_events and not self._closing:
                continue  # more to read now
            now = time.monotonic()
            # Another sleep and read must still fit before the end (reads slow under load).
            next_read_by = now + self._limits.poll_interval_s + 2 * read_s
            ending = (
                request.stop_when_caught_up
                or self._closing
                or (end_at is not None and next_read_by >= end_at)
            )
            if position != sent and (ending or now - last_answer >= CHECKPOINT_EVERY_S):
                sent, last_answer = position, now
                yield Delivery(None, format_cursor(sent))
            if ending:
                return
            await asyncio.sleep(self._limits.poll_interval_s)


def _matches(event: OutboxEvent, types: frozenset[str], resource: str) -> bool:
    return (not types or event.type in types) and (not resource or event.resource_name == resource)


def _end_at(time_remaining_s: float | None) -> float | None:
    if time_remaining_s is None:
        return None
    margin = min(DEADLINE_MARGIN_S, time_remaining_s / 5)
    return time.monotonic() + time_remaining_s - margin
