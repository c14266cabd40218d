"""Run a store-level test's coroutine against a fresh engine on a test database."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
