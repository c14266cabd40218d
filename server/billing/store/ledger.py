"""The journal (ADR 0051). Entries are blind inserts deferred with the transaction's other
writes, so posting costs no round trip of its own; reads are grouped sums over the
(tenant, account, posted_at) index."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, bindparam, func, insert, select

from billing.domain.aging import Owed
from billing.domain.invoices import InvoiceStatus
from billing.domain.ledger import EntryKind, JournalEntry, JournalLine, Seal
from billing.store.batch import BatchedConnection
from billing.store.dialect import insert_or_ignore, upsert
from billing.store.schema import (
    invoices,
    journal_entries,
    journal_lines,
    journal_seals,
    ledger_books,
)

e = journal_entries
sl = journal_seals
bk = ledger_books
inv = invoices
ln = journal_lines
INSERT_ENTRY = insert(e)
INSERT_LINE = insert(ln)


def entry_row(tenant_id: str, entry: JournalEntry) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": entry.id,
        "kind": entry.kind.value,
        "source": entry.source,
        "posted_at": entry.posted_at,
        "period": entry.period,
        "currency": entry.currency,
        "customer_id": entry.customer_id,
        "memo": entry.memo,
        "adjusts": entry.adjusts,
        "reporting_currency": entry.reporting_currency,
    }


def line_rows(tenant_id: str, entry: JournalEntry) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tenant_id,
            "entry_id": entry.id,
            "line_no": i,
            "account": line.account,
            "currency": entry.currency,
            "debit_minor": line.debit_minor,
            "credit_minor": line.credit_minor,
            "reporting_debit_minor": line.reporting_debit_minor,
            "reporting_credit_minor": line.reporting_credit_minor,
            "posted_at": entry.posted_at,
        }
        for i, line in enumerate(entry.lines)
    ]


class SqlJournal:
    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn
        # The books' state as this transaction last read it, and whether under the shared
        # books lock: once read under it, no close can land before this transaction ends (a
        # close takes the lock exclusively), so a bill run's batch reads it once, not once
        # per renewal. (A batch that fails is retried in new transactions, item by item.)
        self._closed: dict[str, tuple[bool, tuple[str, datetime, str] | None]] = {}

    async def add(self, tenant_id: str, entries: Sequence[JournalEntry]) -> None:
        if entries:
            self._conn.defer(INSERT_ENTRY, [entry_row(tenant_id, x) for x in entries])
            self._conn.defer(INSERT_LINE, [r for x in entries for r in line_rows(tenant_id, x)])

    async def entries(
        self,
        tenant_id: str,
        *,
        source: str | None = None,
        period: str | None = None,
        kind: str | None = None,
        after_id: str | None = None,
        before_id: str | None = None,
        limit: int = 100,
    ) -> list[JournalEntry]:
        """Entries in id order (ULIDs: posting order within a process), with their lines;
        only those caused by `source` when given."""
        statement = select(e).where(e.c.tenant_id == tenant_id)
        if source is not None:
            statement = statement.where(e.c.source == source)
        if period is not None:
            statement = statement.where(e.c.period == period)
        if kind is not None:
            statement = statement.where(e.c.kind == kind)
        if before_id is not None:
            statement = statement.where(e.c.id < before_id)
        if after_id is not None:
            statement = statement.where(e.c.id > after_id)
        statement = statement.order_by(e.c.id).limit(limit)
        heads = list(await self._conn.execute(statement))
        if not heads:
            return []
        ids = [h.id for h in heads]
        rows = await self._conn.execute(
            select(ln)
            .where(ln.c.tenant_id == tenant_id, ln.c.entry_id.in_(ids))
            .order_by(ln.c.entry_id, ln.c.line_no)
        )
        by_entry: dict[str, list[JournalLine]] = {i: [] for i in ids}
        for r in rows:
            by_entry[r.entry_id].append(
                JournalLine(
                    r.account,
                    int(r.debit_minor),
                    int(r.credit_minor),
                    None if r.reporting_debit_minor is None else int(r.reporting_debit_minor),
                    None if r.reporting_credit_minor is None else int(r.reporting_credit_minor),
                )
            )
        return [
            JournalEntry(
                id=h.id,
                kind=EntryKind(h.kind),
                source=h.source,
                posted_at=h.posted_at,
                period=h.period,
                currency=h.currency,
                lines=tuple(by_entry[h.id]),
                customer_id=h.customer_id,
                memo=h.memo,
                adjusts=h.adjusts,
                reporting_currency=h.reporting_currency,
            )
            for h in heads
        ]

    async def balances(
        self, tenant_id: str, at: datetime | None = None
    ) -> list[tuple[str, str, int, int]]:
        """(account, currency, debits, credits) of every account with lines posted before
        `at` (exclusive; None: all), by account and currency."""
        statement = select(
            ln.c.account,
            ln.c.currency,
            func.sum(ln.c.debit_minor).label("debits"),
            func.sum(ln.c.credit_minor).label("credits"),
        ).where(ln.c.tenant_id == tenant_id)
        if at is not None:
            statement = statement.where(ln.c.posted_at < at)
        statement = statement.group_by(ln.c.account, ln.c.currency).order_by(
            ln.c.account, ln.c.currency
        )
        result = await self._conn.execute(statement)
        return [(r.account, r.currency, int(r.debits), int(r.credits)) for r in result]

    async def period_sums(
        self, tenant_id: str, start: str, end: str, base: str | None = None
    ) -> list[tuple[str, str, str, int, int]]:
        """(period, account, currency, debits, credits) of periods start..end (inclusive),
        of accounts of `base` only when given."""
        statement = (
            select(e.c.period, ln.c.account, ln.c.currency,
                   func.sum(ln.c.debit_minor).label("debits"),
                   func.sum(ln.c.credit_minor).label("credits"))
            .join(e, (e.c.tenant_id == ln.c.tenant_id) & (e.c.id == ln.c.entry_id))
            .where(ln.c.tenant_id == tenant_id, e.c.period >= start, e.c.period <= end)
            .group_by(e.c.period, ln.c.account, ln.c.currency)
            .order_by(e.c.period, ln.c.account, ln.c.currency)
        )  # fmt: skip
        if base is not None:
            statement = statement.where((ln.c.account == base) | ln.c.account.like(f"{base}:%"))
        rows = await self._conn.execute(statement)
        return [(r.period, r.account, r.currency, int(r.debits), int(r.credits)) for r in rows]

    async def account_movements(
        self, tenant_id: str, account: str, through: str
    ) -> list[tuple[str, str, str, int]]:
        """(period, entry kind, currency, credits - debits) of one account, periods up to
        `through` (inclusive)."""
        statement = (
            select(e.c.period, e.c.kind, ln.c.currency,
                   func.sum(ln.c.credit_minor - ln.c.debit_minor).label("net"))
            .join(e, (e.c.tenant_id == ln.c.tenant_id) & (e.c.id == ln.c.entry_id))
            .where(ln.c.tenant_id == tenant_id, ln.c.account == account, e.c.period <= through)
            .group_by(e.c.period, e.c.kind, ln.c.currency)
        )  # fmt: skip
        rows = await self._conn.execute(statement)
        return [(r.period, r.kind, r.currency, int(r.net)) for r in rows]

    # --- the chain (ADR 0053) ---------------------------------------------------------------

    async def last_seal(self, tenant_id: str) -> Seal | None:
        row = (
            await self._conn.execute(
                select(sl).where(sl.c.tenant_id == tenant_id).order_by(sl.c.seq.desc()).limit(1)
            )
        ).first()
        return Seal(int(row.seq), row.entry_id, bytes(row.hash)) if row is not None else None

    async def seals(self, tenant_id: str, after_seq: int, limit: int) -> list[Seal]:
        rows = await self._conn.execute(
            select(sl)
            .where(sl.c.tenant_id == tenant_id, sl.c.seq > after_seq)
            .order_by(sl.c.seq)
            .limit(limit)
        )
        return [Seal(int(r.seq), r.entry_id, bytes(r.hash)) for r in rows]

    async def add_seals(self, tenant_id: str, seals: Sequence[Seal], at: datetime) -> bool:
        """Append seals; False (nothing written) when another sealer took a seq first."""
        if not seals:
            return True
        rows = [
            {"tenant_id": tenant_id, "seq": x.seq, "entry_id": x.entry_id, "hash": x.hash,
             "sealed_at": at}
            for x in seals
        ]  # fmt: skip
        # The first seq decides: of two sealers after the same seal, one inserts it and the
        # other (waiting on the key until the first commits) inserts nothing and retries.
        first = insert_or_ignore(self._conn.dialect.name, sl, ["tenant_id", "seq"])
        taken = await self._conn.execute(first.returning(sl.c.seq), rows[0])
        if taken.first() is None:
            return False
        if rows[1:]:
            await self._conn.execute(insert(sl), rows[1:])
        return True

    async def count_after(self, tenant_id: str, after_id: str | None) -> int:
        statement = select(func.count()).select_from(e).where(e.c.tenant_id == tenant_id)
        if after_id is not None:
            statement = statement.where(e.c.id > after_id)
        return int((await self._conn.execute(statement)).scalar_one())

    # --- periods (ADR 0053) -----------------------------------------------------------------

    async def closed_through(
        self, tenant_id: str, *, guard: bool = False
    ) -> tuple[str, datetime, str] | None:
        known = self._closed.get(tenant_id)
        if known is not None and (known[0] or not guard):
            return known[1]
        if guard:
            await self._books_lock(tenant_id, _SHARED_BOOKS_LOCK)
        row = (await self._conn.execute(select(bk).where(bk.c.tenant_id == tenant_id))).first()
        books = (row.closed_through, row.closed_at, row.closed_by) if row is not None else None
        if guard:
            self._closed[tenant_id] = (True, books)
        return books

    async def close_through(self, tenant_id: str, period: str, at: datetime, actor: str) -> None:
        await self._books_lock(tenant_id, _BOOKS_LOCK)
        closed_by = actor[:256]
        values = {"closed_through": period, "closed_at": at, "closed_by": closed_by}
        statement = upsert(self._conn.dialect.name, bk, ["tenant_id"], list(values))
        await self._conn.execute(statement, {"tenant_id": tenant_id, **values})
        self._closed[tenant_id] = (True, (period, at, closed_by))  # held exclusively

    def books_read_ahead(self, tenant_id: str, rows: list[tuple[Any, ...]]) -> None:
        """The books' row as `books_ahead` read it, its shared lock held: what
        `closed_through(guard=True)` would read now (ADR 0069)."""
        books = None if not rows else (rows[0][0], rows[0][1].astimezone(UTC), rows[0][2])
        self._closed[tenant_id] = (True, books)

    async def _books_lock(self, tenant_id: str, statement: Any) -> None:
        if self._conn.dialect.name == "postgresql":
            await self._conn.execute(statement, {"k": _books_lock_id(tenant_id)})


class SqlReceivables:
    """What open invoices still owe, for aging (invoices of status open only: written-off
    ones are bad debt)."""

    def __init__(self, conn: BatchedConnection) -> None:
        self._conn = conn

    async def owed(
        self, tenant_id: str, currency: str | None, after_customer: str | None, customers: int
    ) -> list[Owed]:
        owing = (
            inv.c.tenant_id == tenant_id,
            inv.c.status == InvoiceStatus.OPEN.value,
            inv.c.amount_due_minor > func.coalesce(inv.c.paid_minor, 0),
        )
        who = select(inv.c.customer_id).where(*owing).distinct().order_by(inv.c.customer_id)
        if currency is not None:
            who = who.where(inv.c.currency == currency)
        if after_customer is not None:
            who = who.where(inv.c.customer_id > after_customer)
        ids = [r.customer_id for r in await self._conn.execute(who.limit(customers))]
        if not ids:
            return []
        rows = select(
            inv.c.customer_id, inv.c.id, inv.c.currency, inv.c.due_at, inv.c.finalized_at,
            inv.c.amount_due_minor, inv.c.paid_minor,
        ).where(*owing, inv.c.customer_id.in_(ids))  # fmt: skip
        if currency is not None:
            rows = rows.where(inv.c.currency == currency)
        result = await self._conn.execute(rows.order_by(inv.c.customer_id, inv.c.id))
        return [
            Owed(
                r.customer_id,
                r.id,
                r.currency,
                r.due_at or r.finalized_at,
                int(r.amount_due_minor) - int(r.paid_minor or 0),
            )
            for r in result
        ]


# Late postings (shared) and a close (exclusive) meet on one transaction-scoped lock per tenant,
# so a posting never lands in a period closed between its read and its commit (ADR 0053).
# SQLite needs none: its writers take the database's one write lock.
_SHARED_BOOKS_LOCK = select(func.pg_advisory_xact_lock_shared(bindparam("k", type_=BigInteger)))
_BOOKS_LOCK = select(func.pg_advisory_xact_lock(bindparam("k", type_=BigInteger)))


_BOOKS_ROW = select(bk.c.closed_through, bk.c.closed_at, bk.c.closed_by).where(
    bk.c.tenant_id == bindparam("t")
)


def books_ahead(tenant_id: str) -> list[tuple[Any, dict[str, Any]]]:
    """PostgreSQL: the books' shared lock, then their row, as a guarded `closed_through`
    takes and reads them; for a write's opening query (ADR 0069). The row's rows go to
    `SqlJournal.books_read_ahead`."""
    return [
        (_SHARED_BOOKS_LOCK, {"k": _books_lock_id(tenant_id)}),
        (_BOOKS_ROW, {"t": tenant_id}),
    ]


def _books_lock_id(tenant_id: str) -> int:
    digest = hashlib.blake2b(f"ledger_books\x00{tenant_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
