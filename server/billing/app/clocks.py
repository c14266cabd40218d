"""Simulation clocks: create, read, and advance, running all work due up to the new time.

Advancing sets the clock's time in one transaction (idempotent on request_id: the same key
re-attaches to the same advance), then this process works the clock's due items alongside
every other worker and reports progress until none is left at or before the target.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from billing.app.audit_records import audit_of
from billing.app.context import CallContext, Write
from billing.app.due_work import DueWorkWorker, RoundReport
from billing.app.ids import new_id
from billing.app.ports import ParkedItem, SimulationClock, Store, Transaction
from billing.app.run_deadline import CALL_MAX_S, RunDeadline
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidArgument, NotFound
from billing.domain.names import parse_name
from billing.domain.text import check_text

PROGRESS_POLL_S = 0.05  # how often progress is re-counted while other workers run items
PROGRESS_MIN_INTERVAL_S = 0.2  # while this process works items, recount at most this often,
PROGRESS_COST = 20  # and no sooner than 20 times what the last count took (≤ 5% of the time)
PARKED_LISTED_MAX = 100  # parked items named in a progress message (all are counted)


@dataclass(frozen=True)
class NewClock:
    display_name: str
    now: datetime


@dataclass(frozen=True)
class Advance:
    name: str
    to: datetime


@dataclass(frozen=True)
class Progress:
    done: int
    remaining: int
    processed_through: datetime
    last_item: str
    finished: bool
    parked: int = 0
    parked_items: tuple[ParkedItem, ...] = ()


@dataclass(frozen=True)
class _Moved:
    clock_id: str
    before: datetime
    to: datetime


DISPLAY_NAME_MAX = 256  # the column's size


class ClockUseCases:
    def __init__(
        self, store: Store, writes: WriteRunner, worker: DueWorkWorker, max_s: float = CALL_MAX_S
    ) -> None:
        self._store = store
        self._writes = writes
        self._worker = worker
        self._max_s = max_s

    async def create(self, ctx: CallContext, write: Write[NewClock]) -> SimulationClock:
        request = write.input
        if request.now.tzinfo is None:
            raise InvalidArgument.single("clock.now", "is required")
        check_text("clock.display_name", request.display_name, DISPLAY_NAME_MAX)

        async def work(tx: Transaction, now: datetime) -> SimulationClock:
            clock = SimulationClock(new_id("clk"), request.display_name, request.now, now)
            await tx.clocks.insert(ctx.tenant_id, clock)
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    clock.name,
                    "create",
                    {"now": clock.now.isoformat()},
                    now,
                )
            )
            return clock

        return await self._writes.run(ctx, write, CLOCK_CODEC, work)

    async def get(self, ctx: CallContext, name: str) -> SimulationClock:
        clock_id = parse_name(name, "clocks")
        async with self._store.read() as tx:
            clock = await tx.clocks.get(ctx.tenant_id, clock_id)
        if clock is None:
            raise NotFound(name)
        return clock

    async def advance(
        self, ctx: CallContext, write: Write[Advance], deadline_s: float | None = None
    ) -> AsyncIterator[Progress]:
        """Streams progress until nothing of the clock is due up to the target but parked
        items (reported, never awaited: ADR 0021); DeadlineExceeded at the caller's deadline
        (`deadline_s`: its time left) or the server's maximum."""
        deadline = RunDeadline(deadline_s, self._max_s)
        clock_id = parse_name(write.input.name, "clocks")
        target = write.input.to

        async def work(tx: Transaction, now: datetime) -> _Moved:
            clock = await tx.clocks.get(ctx.tenant_id, clock_id, for_update=True)
            if clock is None:
                raise NotFound(write.input.name)
            if target < clock.now:
                raise InvalidArgument.single(
                    "to", f"must not be before the clock's time {clock.now.isoformat()}"
                )
            await tx.clocks.set_now(ctx.tenant_id, clock_id, target)
            await tx.audit.add(
                audit_of(
                    ctx,
                    write,
                    clock.name,
                    "advance",
                    {"from": clock.now.isoformat(), "to": target.isoformat()},
                    now,
                )
            )
            return _Moved(clock_id, clock.now, target)

        moved = await self._writes.run(ctx, write, MOVED_CODEC, work)
        self._worker.notify()
        last = Progress(-1, -1, moved.before, "", False)
        report = RoundReport()  # this call's items only: never another clock's
        count_after = 0.0
        while True:
            # Work this clock's items here too: the caller is waiting for exactly these.
            worked = await self._worker.run_once(ctx.tenant_id, moved.clock_id, report=report)
            if worked and time.monotonic() < count_after and not deadline.passed():
                continue
            began = time.monotonic()
            async with self._store.read() as tx:
                remaining = await tx.due_work.pending_count(ctx.tenant_id, moved.clock_id, moved.to)
                done = await tx.due_work.done_count(
                    ctx.tenant_id, moved.clock_id, moved.before, moved.to
                )
                parked, parked_items = await tx.due_work.parked(
                    ctx.tenant_id, clock_id=moved.clock_id, up_to=moved.to, limit=PARKED_LISTED_MAX
                )
            # Counting reads every item of the run: keep it to a small share of the time.
            took = time.monotonic() - began
            count_after = time.monotonic() + max(PROGRESS_MIN_INTERVAL_S, PROGRESS_COST * took)
            through = report.last_due_at or moved.before
            through = moved.to if remaining == 0 else min(max(through, moved.before), moved.to)
            progress = Progress(
                done,
                remaining,
                through,
                report.last_item,
                remaining == 0,
                parked,
                tuple(parked_items),
            )
            if (progress.done, progress.remaining, progress.parked) != (
                last.done,
                last.remaining,
                last.parked,
            ) or progress.finished:
                yield progress
                last = progress
            if progress.finished:
                return
            if deadline.passed():
                raise deadline.exceeded("AdvanceClock", remaining, parked)
            if not self._worker.runs_rounds:
                # Due-work processes of their own run the items (ADR 0067): only count, every
                # PROGRESS_MIN_INTERVAL_S (the end is seen that late at most).
                await asyncio.sleep(PROGRESS_MIN_INTERVAL_S)
                continue
            await asyncio.sleep(PROGRESS_POLL_S if remaining else 0)


class _ClockCodec:
    def encode(self, result: SimulationClock) -> bytes:
        return json.dumps(
            {
                "id": result.id,
                "display_name": result.display_name,
                "now": result.now.isoformat(),
                "created_at": result.created_at.isoformat(),
            }
        ).encode()

    def decode(self, data: bytes) -> SimulationClock:
        d = json.loads(data)
        return SimulationClock(
            d["id"],
            d["display_name"],
            datetime.fromisoformat(d["now"]),
            datetime.fromisoformat(d["created_at"]),
        )


class _MovedCodec:
    def encode(self, result: _Moved) -> bytes:
        return json.dumps(
            {
                "clock_id": result.clock_id,
                "before": result.before.isoformat(),
                "to": result.to.isoformat(),
            }
        ).encode()

    def decode(self, data: bytes) -> _Moved:
        d = json.loads(data)
        return _Moved(
            d["clock_id"], datetime.fromisoformat(d["before"]), datetime.fromisoformat(d["to"])
        )


CLOCK_CODEC = _ClockCodec()
MOVED_CODEC = _MovedCodec()
