"""The books' closed period is read once per transaction under the shared books lock: a bill
run's batch of renewals reads it once, not once per invoice, and a close in the same
transaction is what later reads see."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import sqlalchemy as sa

from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

AT = datetime(2026, 3, 1, tzinfo=UTC)


def books_reads(database_url: str) -> tuple[list[object], int, object]:
    """Three guarded reads, a close, a guarded read in one transaction; then a read in a new
    transaction. Returns what each read answered, how many times the first transaction read
    the books row, and what the second read."""

    async def main() -> tuple[list[object], int, object]:
        engine = create_engine(database_url)
        reads: list[str] = []

        def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
            if "FROM ledger_books" in statement:
                reads.append(statement)

        sa.event.listen(engine.sync_engine, "before_cursor_execute", count)
        try:
            store = SqlStore(engine)
            answers: list[object] = []
            async with store.write(None) as tx:
                for _ in range(3):
                    answers.append(await tx.journal.closed_through("t1", guard=True))
                await tx.journal.close_through("t1", "2026-02", AT, "finance@example.com")
                answers.append(await tx.journal.closed_through("t1", guard=True))
                first_reads = len(reads)
            async with store.write(None) as tx:
                later = await tx.journal.closed_through("t1", guard=True)
            return answers, first_reads, later
        finally:
            await engine.dispose()

    return asyncio.run(main())


def test_the_books_are_read_once_per_transaction(backend, make_database):
    database = make_database(backend)
    answers, first_reads, later = books_reads(database.async_url)
    assert answers[:3] == [None, None, None]
    assert answers[3] == ("2026-02", AT, "finance@example.com")
    assert first_reads == 1
    assert later is not None and later[0] == "2026-02"
