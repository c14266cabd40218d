"""Which (subscription, cycle start) pairs a batch of renewals finds taken: exactly the stored
pairs among those asked, not a pair made of one pair's subscription and another's start."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore

MAY = datetime(2026, 5, 1, tzinfo=UTC)
JUNE = datetime(2026, 6, 1, tzinfo=UTC)


def test_taken_cycles_are_the_stored_pairs_asked_for(backend, make_database):  # type: ignore[no-untyped-def]
    database = make_database(backend)

    async def main() -> set[tuple[str, datetime]]:
        engine = create_engine(database.async_url)
        try:
            store = SqlStore(engine)
            async with store.write(None) as tx:
                stored = [("sub_a", MAY, "inv_1"), ("sub_b", JUNE, "inv_2")]
                assert await tx.due_batch.claim_cycles("t1", stored)
            async with store.write(None) as tx:
                return await tx.due_batch.taken_cycles(
                    "t1",
                    [
                        ("sub_a", MAY),
                        ("sub_a", JUNE),
                        ("sub_b", MAY),
                        ("sub_b", JUNE),
                        ("sub_c", MAY),
                    ],
                )
        finally:
            await engine.dispose()

    taken = asyncio.run(main())
    assert taken == {("sub_a", MAY), ("sub_b", JUNE)}
