"""DueWorkService's use cases (ADR 0058): the operator's view of the tenant's due work and
what a person does about an item: run it now, park it, unpark it.

Retry takes the item out of turn in a short write (idempotent on its request id, audited),
then runs it in this call through the worker's own path, so a failure is recorded on it as
any other (its error kept, retried after a backoff, parked after its last attempt) and the
call's faults apply to it (ADR 0006). Raises InvalidArgument, NotFound, InvalidState,
IdempotencyKeyReused, RequestInProgress, TransactionConflict.
"""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from billing.app.audit_records import audit_of
from billing.app.clock import Clock
from billing.app.context import CallContext, Write
from billing.app.due_work import DueWorkWorker
from billing.app.due_work_ports import DueFilter, DueRow
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import DueItem, RetryableConflict, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.writes import WriteRunner
from billing.domain.errors import InvalidState, NotFound
from billing.domain.names import COLLECTIONS, parse_name
from billing.domain.text import check_text

STUCK_AFTER = timedelta(minutes=10)  # on real time, an item this late is shown as stuck
KIND_MAX = 32  # the column's width
REASON_MAX = 500
_COLLECTION_OF = {prefix: collection for collection, prefix in COLLECTIONS.items()}


class DueState(enum.Enum):
    PENDING = "pending"
    RUNNING = "running"
    FAILING = "failing"
    PARKED = "parked"
    DONE = "done"


@dataclass(frozen=True)
class DueView:
    row: DueRow
    state: DueState
    next_attempt_at: datetime | None  # wall time after a failure, else the due time

    @property
    def name(self) -> str:
        return f"dueWork/{self.row.id}"

    @property
    def subject(self) -> str:
        collection = _COLLECTION_OF.get(self.row.subject_id.partition("_")[0])
        return f"{collection}/{self.row.subject_id}" if collection else self.row.subject_id


@dataclass(frozen=True)
class DuePage:
    items: list[DueView]
    next_page_token: str


@dataclass(frozen=True)
class ParkOrder:
    name: str
    reason: str


def view_of(row: DueRow, wall_now: datetime) -> DueView:
    """Where the item stands, and when a worker may next try it."""
    if row.done_at is not None:
        return DueView(row, DueState.DONE, None)
    if row.parked_at is not None:
        return DueView(row, DueState.PARKED, None)
    if row.lease_owner is not None and row.lease_until is not None and row.lease_until > wall_now:
        return DueView(row, DueState.RUNNING, None)
    failing = bool(row.last_error) and row.attempts > 0
    backoff = row.lease_until if row.lease_owner is None else None
    return DueView(row, DueState.FAILING if failing else DueState.PENDING, backoff or row.due_at)


class _IdCodec:
    def encode(self, result: str) -> bytes:
        return result.encode()

    def decode(self, data: bytes) -> str:
        return data.decode()


_ID_CODEC = _IdCodec()


class DueWorkAdmin:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        worker: DueWorkWorker,
        wall: Clock,
        lease: timedelta,
    ) -> None:
        self._store = store
        self._writes = writes
        self._worker = worker
        self._wall = wall  # leases and backoffs are wall time (ADR 0007)
        self._lease = lease

    async def list(
        self, ctx: CallContext, which: DueFilter, kind: str, page_size: int, page_token: str
    ) -> DuePage:
        check_text("kind", kind, KIND_MAX)
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        wall = self._wall.now()
        async with self._store.read() as tx:
            rows = await tx.due_work_admin.list_after(
                ctx.tenant_id, which, kind, after, limit + 1, wall, wall - STUCK_AFTER
            )
        page, more = rows[:limit], len(rows) > limit
        return DuePage(
            [view_of(row, wall) for row in page], encode_page_token(page[-1].id) if more else ""
        )

    async def get(self, ctx: CallContext, item_id: str) -> DueView:
        async with self._store.read() as tx:
            row = await tx.due_work_admin.get(ctx.tenant_id, item_id)
        if row is None:
            raise NotFound(f"dueWork/{item_id}")
        return view_of(row, self._wall.now())

    async def retry(self, ctx: CallContext, write: Write[str]) -> DueView:
        """Run the item now, attempts kept; the item as that attempt left it."""
        item_id = parse_name(write.input, "dueWork")
        taken: DueItem | None = None

        async def work(tx: Transaction, now: datetime) -> str:
            nonlocal taken
            wall = self._wall.now()
            row = await self._row(tx, ctx, item_id)
            view = view_of(row, wall)
            _not_done_or_running(view)
            clock_now = row.clock_now or wall
            if row.due_at > clock_now:
                raise InvalidState(
                    f"{view.name} is not due until {row.due_at.isoformat()}", "DUE_WORK_NOT_DUE"
                )
            earlier = await tx.due_work_admin.earlier_unfinished(row)
            if earlier is not None:
                raise InvalidState(
                    f"{view.name} waits for dueWork/{earlier} of {view.subject}, due before it:"
                    " retry that one first",
                    "DUE_WORK_HELD_BACK",
                )
            taken = await tx.due_work_admin.take(
                ctx.tenant_id, item_id, self._worker.owner, wall + self._lease, wall
            )
            if taken is None:
                raise RetryableConflict(f"{view.name} was claimed meanwhile")
            shown = {"kind": row.kind, "attempts": row.attempts, "state": view.state.value}
            await _record(tx, ctx, write, view.name, "retried", shown, now)
            return item_id

        await self._writes.run(ctx, write, _ID_CODEC, work)
        if taken is not None:  # not a replay of the same request id
            # Shielded: a caller giving up (its deadline) does not cut the attempt in two (an
            # email sent and its record rolled back); the reply is lost, the outcome is not.
            await asyncio.shield(self._worker.run_taken(taken, ctx.faults))
        return await self.get(ctx, item_id)

    async def park(self, ctx: CallContext, write: Write[ParkOrder]) -> DueView:
        item_id = parse_name(write.input.name, "dueWork")
        check_text("reason", write.input.reason, REASON_MAX)

        async def work(tx: Transaction, now: datetime) -> str:
            wall = self._wall.now()
            view = view_of(await self._row(tx, ctx, item_id), wall)
            _not_done_or_running(view)
            if view.state is DueState.PARKED:
                return item_id  # already: nothing changes
            if not await tx.due_work_admin.park(ctx.tenant_id, item_id, wall, wall):
                raise RetryableConflict(f"{view.name} was claimed meanwhile")
            shown = {"kind": view.row.kind, "reason": write.input.reason}
            await _record(tx, ctx, write, view.name, "parked", shown, now)
            return item_id

        await self._writes.run(ctx, write, _ID_CODEC, work)
        return await self.get(ctx, item_id)

    async def unpark(self, ctx: CallContext, write: Write[str]) -> DueView:
        item_id = parse_name(write.input, "dueWork")

        async def work(tx: Transaction, now: datetime) -> str:
            view = view_of(await self._row(tx, ctx, item_id), self._wall.now())
            if view.state is not DueState.PARKED:
                raise InvalidState(
                    f"{view.name} is {view.state.value}, not parked", "DUE_WORK_NOT_PARKED"
                )
            if not await tx.due_work.unpark(ctx.tenant_id, item_id):
                raise RetryableConflict(f"{view.name} changed meanwhile")
            shown = {"kind": view.row.kind, "attempts_before": view.row.attempts}
            await _record(tx, ctx, write, view.name, "unparked", shown, now)
            return item_id

        await self._writes.run(ctx, write, _ID_CODEC, work)
        return await self.get(ctx, item_id)

    @staticmethod
    async def _row(tx: Transaction, ctx: CallContext, item_id: str) -> DueRow:
        row = await tx.due_work_admin.get(ctx.tenant_id, item_id)
        if row is None:
            raise NotFound(f"dueWork/{item_id}")
        return row


def _not_done_or_running(view: DueView) -> None:
    if view.state is DueState.DONE:
        raise InvalidState(f"{view.name} is done", "DUE_WORK_DONE")
    if view.state is DueState.RUNNING:
        until = view.row.lease_until.isoformat() if view.row.lease_until else ""
        raise InvalidState(
            f"{view.name} is running in {view.row.lease_owner} (lease until {until})",
            "DUE_WORK_RUNNING",
        )


async def _record(
    tx: Transaction,
    ctx: CallContext,
    write: Write[Any],
    name: str,
    what: str,
    shown: dict[str, Any],
    now: datetime,
) -> None:
    """The event and the audit record of an operator's action, in its transaction."""
    await tx.outbox.add(
        OutboxEvent(new_id("evt"), ctx.tenant_id, f"due_work.{what}", name, shown, now)
    )
    await tx.audit.add(
        audit_of(
            ctx,
            write,
            name,
            what,
            shown,
            now,
        )
    )
