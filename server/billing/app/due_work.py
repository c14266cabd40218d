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
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from billing.app.backoff import full_jitter
from billing.app.clock import Clock
from billing.app.context import NO_FAULTS, Faults
from billing.app.due_batch import BatchTransaction
from billing.app.ports import (
    DueItem,
    NotReady,
    ParkItem,
    RetryableConflict,
    Store,
    Transaction,
)

log = logging.getLogger("billing.due_work")

LEASE = timedelta(
    seconds=30
)  # longer than any one item takes; a dead worker's items wait this long
BATCH_ROWS_MAX = 50  # items per transaction: bounded so one transaction stays short
IDLE_POLL_S = 0.5  # how often an idle worker looks for work it was not told about
MAX_ATTEMPTS = 5  # attempts before an item is parked (BILLING_DUE_WORK_MAX_ATTEMPTS)
RETRY_BACKOFF_BASE_S = 1.0  # first retry within a second, then doubling (full jitter),
RETRY_BACKOFF_MAX_S = 300.0  # never more than 5 minutes apart
LAST_ERROR_CHARS = 500  # what is kept of a failure's message on its item
# Yielding to calls: after each item, while calls of this process are at the database, due
# work waits in steps of YIELD_STEP_S, at most YIELD_MAX_S per item (so a steady stream of
# calls slows a bill run down but never stops it).
YIELD_STEP_S = 0.0005

Handler = Callable[[Transaction, DueItem], Awaitable[str]]
# Run before an item's transaction opens, outside any: a call to an outside service (a tax id
# registry) whose answer it returns on the item for the handler to record (DESIGN.md).
Prepare = Callable[[DueItem], Awaitable[DueItem]]

# Kinds run many to a transaction (app/due_batch.py): a bill run's bulk, and the month's end
# earning each invoice's revenue (as many items as invoices, each only rows of its own). The
# rest (trials, cancellations, finalizations, deliveries: a delivery sends mail, which no
# rollback undoes) run one to a transaction.
BATCHED_KINDS = frozenset({"renew", "recognize_revenue"})


class _ItemFailed(Exception):
    """An item of a batch raised: the batch is rolled back and runs again without it."""

    def __init__(self, item: DueItem) -> None:
        super().__init__(item.id)
        self.item = item


@dataclass
class WorkerStats:
    """What this process's worker did, in total and by (kind, outcome): what the metrics
    endpoint reads at scrape time (ADR 0061). Kinds are the code's own few, so bounded."""

    done: int = 0
    failed: int = 0
    parked: int = 0
    by_kind: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, kind: str, outcome: str, items: int = 1) -> None:
        key = (kind, outcome)
        self.by_kind[key] = self.by_kind.get(key, 0) + items


@dataclass
class RoundReport:
    """What one caller's rounds did (a bill run, a clock advance): its own items only, so a
    caller never sees what the worker did for another tenant or another clock."""

    done: int = 0
    last_item: str = ""
    last_due_at: datetime | None = None  # due time of the latest item done

    def add(self, count: int, last_item: str, last_due_at: datetime) -> None:
        self.done += count
        self.last_item = last_item
        self.last_due_at = last_due_at


@dataclass(frozen=True)
class RetryPolicy:
    """How a failing item is retried: exponential backoff with full jitter, then parked."""

    max_attempts: int = MAX_ATTEMPTS
    base_s: float = RETRY_BACKOFF_BASE_S
    max_s: float = RETRY_BACKOFF_MAX_S


def error_text(exc: BaseException) -> str:
    """A failure as kept on its item: the exception's type and the first line of its message
    (a database error's next lines hold the statement and its parameters), truncated."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".strip()
    return text if len(text) <= LAST_ERROR_CHARS else text[: LAST_ERROR_CHARS - 1] + "…"


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
        batch_rows: int = BATCH_ROWS_MAX,
        calls_busy: Callable[[], bool] | None = None,
        yield_max_s: float = 0.0,
        retry: RetryPolicy = RetryPolicy(),
        prepare: Prepare | None = None,
        runs_rounds: bool = True,
        on_wake: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        # False in a serving process while due-work processes of their own run every round
        # (ADR 0067): its calls then wait on their progress instead of running items here.
        self.runs_rounds = runs_rounds
        self._on_wake = on_wake
        self._prepare = prepare
        self._concurrency = concurrency
        self._batch_rows = batch_rows
        self._calls_busy = calls_busy
        self._yield_max_s = yield_max_s
        self._retry = retry
        # Shared by every round of this process (its own loop, AdvanceClock, RunBilling), so
        # due work never has more than `concurrency` transactions open at once.
        self._slots = asyncio.Semaphore(concurrency)
        self._lease = lease
        self._handler = handler
        self._wall = wall
        self.owner = owner
        self.wake = asyncio.Event()
        self.stats = WorkerStats()

    def notify(self) -> None:
        """Work was added or became due: this process's loop, and the due-work processes if
        there are any, look now rather than at their next poll."""
        self.wake.set()
        if self._on_wake is not None:
            self._on_wake()

    async def run_once(
        self,
        tenant_id: str | None = None,
        clock_id: str | None = None,
        subscription_ids: list[str] | None = None,
        report: RoundReport | None = None,
    ) -> int:
        """Claim one batch and run it; returns how many items were done. `report`, if
        given, collects what this round did (the caller's own progress). Claims nothing in a
        process that leaves the rounds to due-work processes of their own."""
        report = RoundReport() if report is None else report
        if not self.runs_rounds:
            return 0
        now = self._wall.now()
        async with self._store.write(None) as tx:
            # A round claims work for every slot: `concurrency` transactions of a batch each.
            items = await tx.due_work.claim(
                self.owner,
                now,
                now + self._lease,
                self._batch_rows * self._concurrency,
                tenant_id=tenant_id,
                clock_id=clock_id,
                subscription_ids=subscription_ids,
            )
        runnable = []
        for item in items:
            if item.attempts > self._retry.max_attempts:
                # Claimed that often without an outcome recorded: its leases expired, so
                # whatever ran it died with it. Parked rather than run once more.
                await self._park(item, f"claimed {item.attempts - 1} times without finishing")
            else:
                runnable.append(item)
        items = runnable
        # Items run in due order: those due at one instant side by side (a subscription's own
        # items one after another), and nothing of a later instant before they are all done
        # (within this round only: other rounds run side by side, and a failed item waits for
        # its retry, so a shared invoice's finalization checks its renewals itself). At most
        # `concurrency` transactions of this process run at once, so due work never takes
        # more of the database than that from the calls it serves.
        slots = self._slots

        async def run_lane(lane: list[DueItem]) -> int:
            async with slots:
                return sum([await self._run(item, report) for item in lane])

        async def run_batch(batch: list[DueItem]) -> int:
            async with slots:
                return await self._run_batch(batch, report)

        done = 0
        for _, wave in itertools.groupby(items, key=lambda item: item.due_at):
            lanes: dict[str, list[DueItem]] = {}
            for item in wave:
                lanes.setdefault(item.subscription_id, []).append(item)
            alone: list[list[DueItem]] = []
            batched: dict[str, list[DueItem]] = {}  # by tenant: a batch is one tenant's
            for lane in lanes.values():
                if len(lane) == 1 and lane[0].kind in BATCHED_KINDS and self._batch_rows > 1:
                    batched.setdefault(lane[0].tenant_id, []).append(lane[0])
                else:
                    alone.append(lane)
            # Spread the wave over the slots: the batches are as even as the rows allow.
            batches: list[list[DueItem]] = []
            for tenant_items in batched.values():
                count = -(-len(tenant_items) // self._batch_rows)
                count = max(count, min(self._concurrency, len(tenant_items)))
                size = -(-len(tenant_items) // count)
                batches += [tenant_items[i : i + size] for i in range(0, len(tenant_items), size)]
            done += await _all_or_none(
                [run_lane(lane) for lane in alone] + [run_batch(b) for b in batches]
            )
        return done

    async def _run_batch(self, items: list[DueItem], report: RoundReport) -> int:
        """Run items of one tenant in one transaction; an item that fails is taken out and
        run alone (which records its failure on it), and the rest run again without it."""
        todo = list(items)
        done = 0
        while todo:
            try:
                return done + await self._try_batch(todo, report)
            except _ItemFailed as failed:
                todo.remove(failed.item)
                done += await self._run(failed.item, report)
            except Exception as exc:
                # Not one item's doing (a row another writer took, a lost connection): each
                # item alone, as before batching.
                if not isinstance(exc, RetryableConflict):
                    log.warning(
                        "due work batch failed; running its items one by one", exc_info=True
                    )
                for item in todo:
                    done += await self._run(item, report)
                return done
        return done

    async def _try_batch(self, items: list[DueItem], report: RoundReport) -> int:
        async with self._store.write(None) as tx:
            held = await tx.due_batch.complete(items, self.owner, self._wall.now())
            mine = [item for item in items if item.id in held]
            if not mine:
                return 0
            batch = BatchTransaction(tx, mine[0].tenant_id)
            await batch.read_ahead(mine)
            descriptions = []
            for item in mine:
                try:
                    descriptions.append(await self._handler(batch, item))
                except Exception as exc:
                    raise _ItemFailed(item) from exc
                await self._yield_to_calls()
            await batch.write_behind()
        self.stats.done += len(mine)
        for item in mine:
            self.stats.count(item.kind, "done")
        report.add(len(mine), descriptions[-1], mine[-1].due_at)
        return len(mine)

    async def _yield_to_calls(self) -> None:
        """Let the process's calls in between items: a batch must not hold the loop, and
        while calls are at the database they go first (within `yield_max_s` per item)."""
        await asyncio.sleep(0)
        if self._calls_busy is None:
            return
        waited = 0.0
        while waited < self._yield_max_s and self._calls_busy():
            await asyncio.sleep(YIELD_STEP_S)
            waited += YIELD_STEP_S

    async def run_taken(self, item: DueItem, faults: Faults = NO_FAULTS) -> bool:
        """Run an item leased to this worker out of turn (an operator's RetryDueWork, ADR
        0058) in one of the worker's slots; True if done. A failure is recorded on it as any
        other (retried after a backoff, or parked once it reached its last attempt)."""
        async with self._slots:
            return await self._run(item, RoundReport(), faults) == 1

    async def _run(self, item: DueItem, report: RoundReport, faults: Faults = NO_FAULTS) -> int:
        lease_lost = False
        try:
            if self._prepare is not None:
                item = await self._prepare(item)
            async with self._store.write(None) as tx:
                # Completed first (the same transaction, so all or nothing): the handler's
                # own last statement may be the invoice counter, which must stay last.
                if not await tx.due_work.complete(item, self.owner, self._wall.now()):
                    lease_lost = True
                    raise RetryableConflict("lease lost: another worker took this item")
                description = await self._handler(tx, item)
                await faults.before_due_commit()
        except RetryableConflict as conflict:
            if not lease_lost:
                # A row changed under it (or a deadlock): still ours, so given back after a
                # short backoff, not held until its lease ends (30 s of a run waiting on it).
                await self._failed(item, error_text(conflict))
            return 0
        except NotReady as waiting:
            # Not a failure: given back for a moment, its attempt not counted.
            async with self._store.write(None) as tx:
                retry_at = self._wall.now() + timedelta(seconds=waiting.retry_after_s)
                await tx.due_work.release(item, self.owner, retry_at, count_attempt=False)
            return 0
        except ParkItem as parked:
            await self._park(item, error_text(parked))
            return 0
        except Exception as exc:
            self.stats.failed += 1
            self.stats.count(item.kind, "failed")
            log.exception("due work failed", extra={"item": item.id, "kind": item.kind})
            await self._failed(item, error_text(exc))
            return 0
        self.stats.done += 1
        self.stats.count(item.kind, "done")
        report.add(1, description, item.due_at)
        return 1

    async def _failed(self, item: DueItem, error: str) -> None:
        """Record a failure on its item: retried after a backoff, parked after the last
        attempt. Either way it holds back only its own subscription's later work (billing
        never skips a period), and a parked item no longer holds back a run's end."""
        if item.attempts >= self._retry.max_attempts:
            await self._park(item, error)
            return
        # Full jitter: items that failed together (a database outage) retry spread out.
        delay = full_jitter(item.attempts, self._retry.base_s, self._retry.max_s)
        async with self._store.write(None) as tx:
            await tx.due_work.release(
                item, self.owner, self._wall.now() + timedelta(seconds=delay), error
            )

    async def _park(self, item: DueItem, error: str) -> None:
        self.stats.parked += 1
        self.stats.count(item.kind, "parked")
        log.error(
            "due work parked after its last attempt; `billing due-work retry` runs it again",
            extra={"item": item.id, "kind": item.kind, "attempts": item.attempts, "error": error},
        )
        async with self._store.write(None) as tx:
            await tx.due_work.park(item, self.owner, self._wall.now(), error)

    async def run_forever(self) -> None:
        while True:
            try:
                if await self.run_once():
                    continue  # more may be due right behind
            except Exception:
                log.exception("claiming due work failed; will retry")
            self.wake.clear()
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for loses a cancellation that
            # lands as the wake is set, and this loop then ran on, holding up shutdown.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_POLL_S):
                    await self.wake.wait()


async def _all_or_none(lanes: list[Coroutine[Any, Any, int]]) -> int:
    """Run the lanes side by side and sum what they did. A lane that raises cancels the
    others (a task group: none is left running, orphaned, after its caller gave up), and its
    exception is raised as itself when it is the only one."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(lane) for lane in lanes]
    except BaseExceptionGroup as failed:
        if len(failed.exceptions) == 1:
            raise failed.exceptions[0] from None
        raise
    return sum(task.result() for task in tasks)
