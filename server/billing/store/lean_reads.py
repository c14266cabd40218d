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

A read goes through `LeanConnection.fetch_one`, on psycopg's libpq layer (`psycopg.pq`): the
statement prepared once a connection, sent with `send_query_prepared`, its reply awaited on a
reader the loop keeps for the connection's socket (added once, not per query), its row loaded by
psycopg's own `Transformer` (the same loaders as a cursor). A psycopg cursor costs ~200 µs of
CPU a query here (its generators, prepare bookkeeping, a reader added and removed and a timer
armed per wait); this path ~80-110 (ADR 0076).
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
from psycopg.adapt import Transformer
from psycopg.errors import error_from_result
from sqlalchemy.engine.url import make_url


def conninfo(url: str) -> str:
    """libpq connection string of an SQLAlchemy URL (`postgresql+psycopg://…`)."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class LeanConnection:
    """One autocommit connection of the pool, read through libpq directly (see the module's
    doc). `psycopg` hands out the connection itself, for what the lean path does not do."""

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._conn = conn
        self._pgconn = conn.pgconn
        self._loaders = Transformer.from_context(conn)
        self._prepared: set[bytes] = set()
        self._reply: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # set while its socket is watched
        self._watched_fd = -1  # libpq no longer tells the socket once the connection is lost

    @property
    def psycopg(self) -> psycopg.AsyncConnection[Any]:
        # psycopg's own waits register the socket themselves: ours must not be there too.
        self.unwatch()
        return self._conn

    async def fetch_one(
        self, name: bytes, sql: bytes, params: list[bytes]
    ) -> tuple[Any, ...] | None:
        """The first row of prepared statement `name` (`sql`, `$n` placeholders) run with
        `params` in text form, loaded as a psycopg cursor would; None when there is none."""
        pgconn = self._pgconn
        if name not in self._prepared:
            pgconn.send_prepare(name, sql)
            await self._flush()
            self._check(await self._results(), pq.ExecStatus.COMMAND_OK)
            self._prepared.add(name)
        pgconn.send_query_prepared(name, params)
        await self._flush()
        result = self._check(await self._results(), pq.ExecStatus.TUPLES_OK)
        if result.ntuples == 0:
            return None
        self._loaders.set_pgresult(result)
        row: tuple[Any, ...] = self._loaders.load_row(0, tuple)
        return row

    def unwatch(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._watched_fd)
            self._loop = None

    async def _flush(self) -> None:
        # A statement this small leaves in one send; a full socket buffer is waited out.
        while self._pgconn.flush() != 0:
            loop, fd = asyncio.get_running_loop(), self._pgconn.socket
            writable = loop.create_future()
            loop.add_writer(fd, _settle, writable)
            try:
                await writable
            finally:
                loop.remove_writer(fd)

    async def _results(self) -> list[pq.abc.PGresult]:
        pgconn = self._pgconn
        results: list[pq.abc.PGresult] = []
        while True:
            pgconn.consume_input()
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:
                    return results
                results.append(result)
            self._watch()
            reply = self._reply = asyncio.get_running_loop().create_future()
            try:
                await reply
            finally:
                self._reply = None

    def _watch(self) -> None:
        if self._loop is None:
            self._watched_fd = self._pgconn.socket
            self._loop = asyncio.get_running_loop()
            self._loop.add_reader(self._watched_fd, self._readable)

    def _readable(self) -> None:
        if self._reply is not None:
            _settle(self._reply)
            return
        # Nothing asked: a notice, or the server closing the connection. A closed socket stays
        # readable, so a connection that cannot read is no longer watched (it is discarded
        # when next returned to the pool, or fails its next statement).
        try:
            self._pgconn.consume_input()
        except psycopg.OperationalError:
            self.unwatch()

    def _check(self, results: list[pq.abc.PGresult], wanted: pq.ExecStatus) -> pq.abc.PGresult:
        for result in results:
            if result.status != wanted:
                raise error_from_result(result, self._conn.info.encoding)
        if len(results) != 1:
            raise psycopg.InternalError(f"expected one result, got {len(results)}")
        return results[0]


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass
class _Pooled:
    conn: psycopg.AsyncConnection[Any]
    opened_at: float
    lean: LeanConnection = field(init=False)

    def __post_init__(self) -> None:
        self.lean = LeanConnection(self.conn)


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
    async def connection(self) -> AsyncIterator[LeanConnection]:
        pooled = await self._get()
        self.in_use += 1
        try:
            yield pooled.lean
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
            pooled.lean.unwatch()
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
            and conn.pgconn.status == pq.ConnStatus.OK
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
        pooled.lean.unwatch()
        # Closing sends a Terminate and closes the socket; no reply is awaited.
        pooled.conn.pgconn.finish()
