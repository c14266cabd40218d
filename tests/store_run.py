"""Store-level tests: run a coroutine against a fresh engine on a test database, and read
what a database holds now."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import sqlalchemy as sa

from billing.store.engine import create_engine
from billing.store.sql_store import SqlStore
from conftest import Database

T = TypeVar("T")


def run_with_store(database: Database, work: Callable[[SqlStore], Awaitable[T]]) -> T:
    """`work(store)` on a new engine for `database`, disposed afterwards; its result."""

    async def main() -> T:
        engine = create_engine(database.async_url)
        try:
            return await work(SqlStore(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def query_rows(database: Database, query: str) -> list[tuple[object, ...]]:
    """What `query` (SQL text) reads from `database` now, on a connection of its own."""
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(query))]
    finally:
        engine.dispose()
