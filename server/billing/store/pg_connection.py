"""The psycopg connection the server's PostgreSQL engines open (`engine.create_engine`).

PostgreSQL arms `idle_in_transaction_session_timeout` when it sends ReadyForQuery inside a
transaction and disarms it on the next message it reads. psycopg ends every pipeline (our
opening reads, `read_together`, and its own `executemany`) with a Sync and then a Flush: the
Sync's ReadyForQuery arms the timer, the Flush disarms it, and nothing re-arms it until the
next statement. A caller stalled right after a pipeline held its transaction, and the
keyed write's advisory lock, for ever (ADR 0021, found; measured: idle 1 s past a 200 ms
limit, still open). Here a pipeline ends with its Sync alone; the server flushes its output
at a Sync anyway, so the Flush bought nothing.

It also keeps the write batch's prepared inserts (ADR 0072, `store/prepared.py`) and forgets
them when psycopg deallocates every prepared statement of the session, as it does after a
ROLLBACK while it holds statements of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from psycopg import AsyncConnection, AsyncPipeline
from psycopg.abc import PQGen


class _SyncEndedPipeline(AsyncPipeline):
    def _exit_gen(self) -> PQGen[None]:
        self._enqueue_sync()
        try:
            yield from self._communicate_gen()
        finally:
            # Commands still queued: sending failed before the Sync went out, and psycopg's
            # Flush is what gets the results already sent back.
            yield from self._fetch_gen(flush=bool(self.command_queue))


class ArmedConnection(AsyncConnection[Any]):
    """An AsyncConnection whose pipelines leave the idle-in-transaction timer armed, and
    which knows the write batch's statements prepared on its session."""

    # The batch's prepared inserts on this session: statement text -> name (store/prepared.py).
    batch_statements: dict[str, str] | None = None
    batch_serial = 0  # names handed out on this connection, kept or given up

    def _deallocate(self, name: bytes | None) -> PQGen[None]:
        if name is None:  # psycopg's DEALLOCATE ALL (after a ROLLBACK, a DROP, an ALTER)
            self.batch_statements = None  # ours go with its own
        return super()._deallocate(name)

    @asynccontextmanager
    async def pipeline(self) -> AsyncIterator[AsyncPipeline]:
        async with super().pipeline() as pipeline:
            # Swapped before the exit, which is all the subclass changes (the exit looks
            # `_exit_gen` up on the instance). Nested pipelines share the outer one.
            pipeline.__class__ = _SyncEndedPipeline
            yield pipeline

    @asynccontextmanager
    async def _pipeline_nolock(self) -> AsyncIterator[AsyncPipeline]:  # executemany's
        async with super()._pipeline_nolock() as pipeline:
            pipeline.__class__ = _SyncEndedPipeline
            yield pipeline
