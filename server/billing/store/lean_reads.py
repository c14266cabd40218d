"""The hottest reads on a lean path (PostgreSQL): psycopg connections in autocommit, no
SQLAlchemy (issue 12, ADR 0065).

A GetCustomer through the engine paid SQLAlchemy's checkout (the pool's events, a switch to
autocommit and its reset on return, the rollback-on-return), its execution path (compile
cache, execution context, events) and its result machinery, around one statement. Measured
per call on one connection (`select 1`, thread CPU): engine 870 µs, engine checkout with a raw
cursor 490 µs, a psycopg connection of its own 220 µs. So the hottest single-statement reads
take a connection from this pool, opened in autocommit once (a read sees what is committed,
with no BEGIN or ROLLBACK: what `SqlStore.read` gives), send their statement through a psycopg
cursor and map the row to the same domain dataclass the repository builds.

The pool is small and plain: connections opened on demand up to `size`, reused last-in
first-out, a caller past `size` waits for one to come back (no overflow, as the engine: a
connection past the pool would be a PostgreSQL fork per call). A connection comes back to the
pool only if it is idle and not broken (a call cancelled mid-statement leaves it busy: it is
closed), and is closed after `recycle_s` like the engine's.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq
from sqlalchemy.engine.url import make_url


def conninfo(url: str) -> str:
    """libpq connection string of an SQLAlchemy URL (`postgresql+psycopg://…`)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class _Pooled:
    conn: psycopg.AsyncConnection[Any]
    opened_at: float


@dataclass
class LeanPool:
    """Autocommit psycopg connections for single-statement reads (see the module's doc)."""

    url: str  # SQLAlchemy's form, as the settings hold it
    size: int
    options: str  # libpq `options`: the session settings the engine's connections have
    recycle_s: float
    in_use: int = 0  # checked out now (with the engine's: calls at the database)
    _idle: list[_Pooled] = field(default_factory=list)
    _opened: int = 0
    _waiters: deque[asyncio.Future[_Pooled | None]] = field(default_factory=deque)
    _closed: bool = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        pooled = await self._get()
        self.in_use += 1
        try:
            yield pooled.conn
        finally:
            self.in_use -= 1
            self._put(pooled)

    def busy(self) -> bool:
        return self.in_use > 0

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for pooled in idle:
            self._opened -= 1
            await pooled.conn.close()

    async def _get(self) -> _Pooled:
        if self._closed:
            raise RuntimeError("the lean read pool is closed")
        while self._idle:
            pooled = self._idle.pop()
            if time.monotonic() - pooled.opened_at < self.recycle_s:
                return pooled
            self._discard(pooled)
        if self._opened >= self.size:
            waiter: asyncio.Future[_Pooled | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                handed = await waiter  # a connection, or None: a place freed to open one
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over, then cancelled
                    late = waiter.result()
                    if late is None:
                        self._wake_one(None)
                    else:
                        self._put(late)
                raise
            if handed is not None:
                return handed
        self._opened += 1
        try:
            conn = await psycopg.AsyncConnection.connect(
                conninfo(self.url), autocommit=True, options=self.options
            )
        except BaseException:
            self._opened -= 1
            self._wake_one(None)
            raise
        return _Pooled(conn, time.monotonic())

    def _put(self, pooled: _Pooled) -> None:
        conn = pooled.conn
        reusable = (
            not self._closed
            and not conn.closed
            and not conn.broken
            and conn.pgconn.transaction_status == pq.TransactionStatus.IDLE
        )
        if not reusable:
            self._discard(pooled)
            self._wake_one(None)
            return
        if not self._wake_one(pooled):
            self._idle.append(pooled)

    def _wake_one(self, handed: _Pooled | None) -> bool:
        """Hand `handed` (or a free place) to the first caller still waiting."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(handed)
                return True
        return False

    def _discard(self, pooled: _Pooled) -> None:
        self._opened -= 1
        # Closing sends a Terminate and closes the socket; no reply is awaited.
        pooled.conn.pgconn.finish()
