"""The ledger's reads and its integrity (ADR 0053): trial balance, journal listing, revenue and
deferred revenue reports, the hash chain sealed behind a horizon and verified, and periods
closed for good."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ulid import ULID

from billing.app.audit_records import audit_of
from billing.app.billing_time import BillingTime
from billing.app.clock import Clock
from billing.app.context import CallContext, Write
from billing.app.ids import new_id
from billing.app.paging import decode_page_token, encode_page_token, page_limit
from billing.app.ports import RetryableConflict, Store, Transaction
from billing.app.records import OutboxEvent
from billing.app.rules import RuleUseCases
from billing.app.writes import Codec, WriteRunner
from billing.domain import ledger_reports
from billing.domain.errors import InvalidArgument, InvalidState
from billing.domain.ledger import (
    DEFERRED_REVENUE,
    GENESIS,
    REVENUE,
    EntryKind,
    JournalEntry,
    chain_hash,
    seal,
)
from billing.domain.ledger_reports import BalanceRow, RollforwardRow
from billing.domain.money import currency_problem

PERIOD = re.compile(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
SEAL_BATCH = 1000  # entries sealed per transaction
VERIFY_BATCH = 1000
WATERFALL_MONTHS_MAX = 60
SCHEDULE_PAGE = 1000


def check_period(field: str, period: str) -> str:
    if not PERIOD.match(period):
        raise InvalidArgument.single(field, f"{period[:16]!r} is not a period YYYY-MM")
    return period


def seal_horizon(statement_ms: int, idle_ms: int, override_s: int = -1) -> timedelta:
    """How old an entry must be to be sealed: longer than any write transaction can live
    (the longest statement timeout, then idle in transaction, and a margin); `override_s`
    when not negative."""
    if override_s >= 0:
        return timedelta(seconds=override_s)
    return timedelta(milliseconds=statement_ms + idle_ms) + timedelta(seconds=30)


def horizon_id(now: datetime, horizon: timedelta) -> str:
    """The smallest entry id posted at `now - horizon`: every id below it belongs to a
    transaction that has committed or is gone for good (ADR 0051)."""
    ms = int((now - horizon).timestamp() * 1000)
    return f"jrn_{ULID.from_bytes(ms.to_bytes(6, 'big') + bytes(10))}"


@dataclass(frozen=True)
class Verification:
    ok: bool
    sealed: int
    first_broken_seq: int  # 0 when none
    problem: str
    waiting: int  # entries not sealed yet


@dataclass(frozen=True)
class Books:
    closed_through: str  # "" when never closed
    closed_at: datetime | None
    closed_by: str


@dataclass(frozen=True)
class EntryPage:
    entries: list[JournalEntry]
    next_page_token: str


class _BooksCodec(Codec[Books]):
    def encode(self, result: Books) -> bytes:
        at = result.closed_at.isoformat() if result.closed_at else None
        return json.dumps([result.closed_through, at, result.closed_by]).encode()

    def decode(self, data: bytes) -> Books:
        period, at, by = json.loads(data)
        return Books(period, datetime.fromisoformat(at) if at else None, by)


class JournalChain:
    """The hash chain (ADR 0051, 0053): entries sealed in id order once older than the horizon,
    and the sealed prefix recomputed from the stored entries."""

    def __init__(self, store: Store, wall: Clock, horizon: timedelta) -> None:
        self._store = store
        self._wall = wall
        self._horizon = horizon

    @property
    def horizon(self) -> timedelta:
        """Longer than any transaction lives (statement and idle timeouts)."""
        return self._horizon

    async def seal(self, tenant_id: str) -> int:
        """Seal the entries older than the horizon, in id order; how many were sealed."""
        sealed = 0
        for _ in range(10_000):  # bounded: at most that many batches per call
            async with self._store.write(None) as tx:
                count = await self._seal_batch(tx, tenant_id)
            sealed += count
            if count < SEAL_BATCH:
                return sealed
        return sealed

    async def _seal_batch(self, tx: Transaction, tenant_id: str) -> int:
        last = await tx.journal.last_seal(tenant_id)
        below = horizon_id(self._wall.now(), self._horizon)
        entries = await tx.journal.entries(
            tenant_id, after_id=last.entry_id if last else None, before_id=below, limit=SEAL_BATCH
        )
        if not entries:
            return 0
        if not await tx.journal.add_seals(tenant_id, seal(last, entries), self._wall.now()):
            raise RetryableConflict(f"another sealer sealed {tenant_id}'s journal first")
        return len(entries)

    async def verify(self, tenant_id: str, *, seal_first: bool = True) -> Verification:
        """Recompute the sealed prefix of the chain from the stored entries."""
        if seal_first:
            for attempt in range(5):
                try:
                    await self.seal(tenant_id)
                    break
                except RetryableConflict:
                    if attempt == 4:
                        raise
        previous, checked, after_seq, after_id = GENESIS, 0, 0, None
        async with self._store.read() as tx:
            while True:
                seals = await tx.journal.seals(tenant_id, after_seq, VERIFY_BATCH)
                if not seals:
                    break
                entries = await tx.journal.entries(tenant_id, after_id=after_id, limit=len(seals))
                for stored, entry in zip(seals, entries + [None] * len(seals), strict=False):
                    if entry is None or entry.id != stored.entry_id:
                        return Verification(False, checked, stored.seq,
                                            f"seq {stored.seq}: entry {stored.entry_id} is missing"
                                            " or out of order", 0)  # fmt: skip
                    previous = chain_hash(previous, entry)
                    if previous != stored.hash:
                        return Verification(False, checked, stored.seq,
                                            f"seq {stored.seq}: {entry.id} does not match its"
                                            " seal (changed after sealing)", 0)  # fmt: skip
                    checked += 1
                after_seq, after_id = seals[-1].seq, seals[-1].entry_id
            waiting = await tx.journal.count_after(tenant_id, after_id)
        return Verification(True, checked, 0, "", waiting)


class LedgerUseCases:
    def __init__(
        self,
        store: Store,
        writes: WriteRunner,
        rules: RuleUseCases,
        time: BillingTime,
        chain: JournalChain,
        wall: Clock,
    ) -> None:
        self._store = store
        self._writes = writes
        self._rules = rules
        self._time = time
        self.chain = chain
        self._wall = wall

    # --- reports --------------------------------------------------------------------------

    async def trial_balance(
        self, ctx: CallContext, at: datetime | None, currency: str
    ) -> tuple[datetime, list[BalanceRow]]:
        if currency and (problem := currency_problem(currency)) is not None:
            raise InvalidArgument.single("currency_code", problem)
        active = await self._rules.active_rules(ctx)
        async with self._store.read() as tx:
            at = at or await self._time.now(tx, ctx.tenant_id, None)
            sums = await tx.journal.balances(ctx.tenant_id, at)
        rows = ledger_reports.trial_balance(sums, active.rules.ledger)
        return at, [r for r in rows if not currency or r.currency == currency]

    async def entries(
        self,
        ctx: CallContext,
        period: str,
        source: str,
        kind: str,
        page_size: int,
        page_token: str,
    ) -> EntryPage:
        if period:
            check_period("period", period)
        if kind and kind not in {k.value for k in EntryKind}:
            raise InvalidArgument.single("kind", f"{kind[:40]!r} is not an entry kind")
        limit = page_limit(page_size)
        after = decode_page_token(page_token)
        async with self._store.read() as tx:
            rows = await tx.journal.entries(
                ctx.tenant_id, source=source or None, period=period or None, kind=kind or None,
                after_id=after, limit=limit + 1,
            )  # fmt: skip
        page = rows[:limit]
        return EntryPage(page, encode_page_token(page[-1].id) if len(rows) > limit else "")

    async def revenue_by_product(
        self, ctx: CallContext, start: str, end: str
    ) -> list[tuple[str, str, str, int]]:
        check_period("start_period", start)
        check_period("end_period", end)
        async with self._store.read() as tx:
            sums = await tx.journal.period_sums(ctx.tenant_id, start, end, REVENUE)
        return ledger_reports.revenue_by_product(sums)

    async def rollforward(self, ctx: CallContext, start: str, end: str) -> list[RollforwardRow]:
        check_period("start_period", start)
        check_period("end_period", end)
        if end < start:
            raise InvalidArgument.single("end_period", "must not be before start_period")
        if int(end[:4]) - int(start[:4]) > 10:
            raise InvalidArgument.single("end_period", "at most ten years after start_period")
        async with self._store.read() as tx:
            moves = await tx.journal.account_movements(ctx.tenant_id, DEFERRED_REVENUE, end)
        return ledger_reports.rollforward(moves, start, end)

    async def waterfall(self, ctx: CallContext, months: int) -> dict[tuple[str, str], int]:
        if not 0 <= months <= WATERFALL_MONTHS_MAX:
            raise InvalidArgument.single("months", f"must be within 0..{WATERFALL_MONTHS_MAX}")
        active = await self._rules.active_rules(ctx)
        zone = ZoneInfo(active.rules.invoicing.numbering_time_zone)
        total: dict[tuple[str, str], int] = {}
        after: str | None = None
        async with self._store.read() as tx:
            now = await self._time.now(tx, ctx.tenant_id, None)
            while True:  # the schedules page by page: memory stays one page
                page = await tx.revenue_schedules.active(ctx.tenant_id, None, after, SCHEDULE_PAGE)
                for key, amount in ledger_reports.waterfall(page, now, months or 12, zone).items():
                    total[key] = total.get(key, 0) + amount
                if len(page) < SCHEDULE_PAGE:
                    return total
                after = page[-1].id

    # --- periods ----------------------------------------------------------------------------

    async def books(self, ctx: CallContext) -> Books:
        async with self._store.read() as tx:
            closed = await tx.journal.closed_through(ctx.tenant_id)
        return Books(*closed) if closed is not None else Books("", None, "")

    async def close_period(self, ctx: CallContext, write: Write[str]) -> Books:
        """Close `write.input` and every period before it. Only a period that has ended (wall
        time, in the seller's zone) closes; closing an earlier one than already closed is a
        no-op answer."""
        period = check_period("period", write.input)
        active = await self._rules.active_rules(ctx)
        zone = ZoneInfo(active.rules.invoicing.numbering_time_zone)
        # A posting checks the wall month without a read when it is in it (books._landing):
        # the period closes only once every transaction of its last instant has ended.
        closes_at = ledger_reports.period_end(period, zone) + self.chain.horizon
        if closes_at > self._wall.now():
            raise InvalidState(
                f"{period} has not ended yet; it can close from {closes_at.isoformat()}",
                "PERIOD_OPEN",
            )
        await self.chain.seal(ctx.tenant_id)  # what the period holds is sealed before it closes

        async def work(tx: Transaction, now: datetime) -> Books:
            closed = await tx.journal.closed_through(ctx.tenant_id)
            if closed is not None and closed[0] >= period:
                return Books(*closed)
            at = self._wall.now().astimezone(UTC)
            await tx.journal.close_through(ctx.tenant_id, period, at, ctx.actor)
            details = {"closed_through": period, "previous": closed[0] if closed else None}
            await tx.outbox.add(
                OutboxEvent(new_id("evt"), ctx.tenant_id, "ledger.period_closed",
                            f"ledgerPeriods/{period}", details, now)
            )  # fmt: skip
            await tx.audit.add(
                audit_of(ctx, write, f"ledgerPeriods/{period}", "close", details, now)
            )  # fmt: skip
            return Books(period, at, ctx.actor)

        return await self._writes.run(ctx, write, _BooksCodec(), work)
