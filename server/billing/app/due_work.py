"""The due-work worker: claims due items with a wall-time lease and runs each in its own
transaction. Every server process runs one; on SQLite there is one process, so one worker.

Leases always use wall time (a simulated clock may stand still or leap years ahead), so a
killed worker's items are claimed again once its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from billing.app.clock import Clock
from billing.app.ports import DueItem, RetryableConflict, Store, Transaction

log = logging.getLogger("billing.due_work")

LEASE = timedelta(
    seconds=30
)  # longer than any one item takes; a dead worker's items wait this long
BATCH_ROWS_MAX = 50  # claimed per round: bounded so one worker never hoards a run
IDLE_POLL_S = 0.5  # how often an idle worker looks for work it was not told about
MAX_ATTEMPTS = 5  # past this, every retry is logged as an error for an operator
RETRY_BACKOFF_BASE_S = 1.0
RETRY_BACKOFF_MAX_S = 3600.0

Handler = Callable[[Transaction, DueItem], Awaitable[str]]


@dataclass
class WorkerStats:
    done: int = 0
    failed: int = 0


class DueWorkWorker:
    def __init__(
        self,
        store: Store,
        handler: Handler,
        wall: Clock,
        owner: str,
        lease: timedelta = LEASE,
        *,
        concurrency: int = 1,
    ) -> None:
        self._store = store
        self._concurrency = concurrency
        self._lease = lease
        self._handler = handler
        self._wall = wall
        self.owner = owner
        self.wake = asyncio.Event()
        self.stats = WorkerStats()
        self.last_item = ""
        self.last_due_at: datetime | None = None  # due time of the latest item done

    async def run_once(
        self,
        tenant_id: str | None = None,
        clock_id: str | None = None,
        subscription_ids: list[str] | None = None,
    ) -> int:
        """Claim one batch and run it; returns how many items were done."""
        now = self._wall.now()
        async with self._store.write(None) as tx:
            items = await tx.due_work.claim(
                self.owner,
                now,
                now + self._lease,
                BATCH_ROWS_MAX,
                tenant_id=tenant_id,
                clock_id=clock_id,
                subscription_ids=subscription_ids,
            )
        for item in items:
            if item.attempts > MAX_ATTEMPTS:
                log.error(
                    "due work keeps failing; retrying with backoff",
                    extra={"item": item.id, "kind": item.kind, "attempts": item.attempts},
                )
        # Items run in due order: those due at one instant side by side (each in its own
        # transaction, a subscription's own items one after another), and nothing of a
        # later instant before they are all done (a shared invoice is finalized just after
        # the renewals that fill it).
        slots = asyncio.Semaphore(self._concurrency)

        async def run_lane(lane: list[DueItem]) -> int:
            async with slots:
                return sum([await self._run(item) for item in lane])

        done = 0
        for _, wave in itertools.groupby(items, key=lambda item: item.due_at):
            lanes: dict[str, list[DueItem]] = {}
            for item in wave:
                lanes.setdefault(item.subscription_id, []).append(item)
            done += sum(await asyncio.gather(*(run_lane(lane) for lane in lanes.values())))
        return done

    async def _run(self, item: DueItem) -> int:
        try:
            async with self._store.write(None) as tx:
                # Completed first (the same transaction, so all or nothing): the handler's
                # own last statement may be the invoice counter, which must stay last.
                if not await tx.due_work.complete(item, self.owner, self._wall.now()):
                    raise RetryableConflict("lease lost: another worker took this item")
                self.last_item = await self._handler(tx, item)
                self.last_due_at = item.due_at
        except RetryableConflict:
            return 0  # someone else has it, or it will be claimed again
        except Exception:
            self.stats.failed += 1
            log.exception("due work failed", extra={"item": item.id, "kind": item.kind})
            # Back off exponentially: a failing item must not spin, and it keeps blocking only
            # its own subscription's later work (billing never skips a period).
            delay = min(RETRY_BACKOFF_BASE_S * 2 ** max(item.attempts - 1, 0), RETRY_BACKOFF_MAX_S)
            async with self._store.write(None) as tx:
                await tx.due_work.release(
                    item, self.owner, self._wall.now() + timedelta(seconds=delay)
                )
            return 0
        self.stats.done += 1
        return 1

    async def run_forever(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue  # more may be due right behind
            except Exception:
                log.exception("claiming due work failed; will retry")
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), IDLE_POLL_S)
