"""One connection per transaction whose blind writes travel together.

A profile of CreateSubscription put half of a server process's CPU in the database client
(SQLAlchemy's execution path and psycopg's per-statement wait), one statement at a time,
each a round trip through a busy event loop. Most of a write call's statements are *blind*:
inserts whose result nothing reads (the invoice, its lines, due work, the subscription, the
idempotency key, outbox events, audit records). Repositories `defer()` those; they are sent
together, in order, by `flush()`: on PostgreSQL in one psycopg pipeline (one network round
trip, statements compiled once per shape), elsewhere one `execute` per statement.

A statement that names a table with a waiting write (or whose tables cannot be known: text,
the raw connection, a pipeline of reads) flushes the batch first, so the transaction sees its
own writes exactly as if each had been sent when it was made: the batch changes when
statements travel, never what any statement sees. A read of other tables (the customer's
credit while the new subscription's rows wait) goes ahead of the batch. A blind write that
fails fails the transaction at the flush, with the same error it would have raised when made.

Plain inserts travel as multi-row INSERTs, and those of one shape into a table no other
waiting statement names are merged into the first of them (ADR 0068): nothing else in the
batch can tell, and the rows of each table keep their order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg
from psycopg import generators, pq
from psycopg.adapt import Transformer
from psycopg.pq.abc import PGresult
from sqlalchemy import Dialect
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import ClauseElement, Executable, TextClause
from sqlalchemy.sql.compiler import Compiled
from sqlalchemy.sql.util import find_tables

from billing.observability.sql_spans import raw_span
from billing.store.literals import ClientBinding
from billing.store.prepared import (
    CUSTOM_PLANS,
    GENERIC_PLANS,
    MAX_ROWS,
    Preparing,
    parametrized,
)

Row = Mapping[str, Any]


@dataclass
class _Deferred:
    statement: Executable
    rows: list[Row]


@dataclass(frozen=True)
class _Last:
    """A statement for the end of the transaction, whose rows someone waits for."""

    sql: str  # as psycopg takes it: %(name)s parameters
    params: Mapping[str, Any]
    receive: Callable[[list[tuple[Any, ...]]], None]


@dataclass(frozen=True)
class _Held:
    """A waiting insert's row to send as a last statement instead (`WriteBatch.hold_last`)."""

    statement: Executable
    row: Row  # the queued row itself (by identity): changes made to it until the flush count
    sql_of: Callable[[str], str]  # the last statement, from the insert's compiled text
    params: Mapping[str, Any]  # beside (and over) the row's values
    one_plan: bool = False  # the statement has no plan to choose: prepared (ADR 0072)


@dataclass(frozen=True)
class _Shape:
    """A statement compiled for psycopg, with SQLAlchemy's bind processors."""

    sql: str
    processors: Mapping[str, Callable[[Any], Any]]
    # Values the statement carries itself (a `.limit(1)` is a bound parameter too).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    values_at: int = -1  # a mergeable insert's row starts here (`_values_at`); -1: not one
    tail: str = ""  # what follows its row: "" or " ON CONFLICT (…) DO NOTHING"

    def bind(self, row: Row) -> dict[str, Any]:
        processors = self.processors
        bound = {
            name: processors[name](value) if name in processors else value
            for name, value in row.items()
        }
        return {**self.defaults, **bound} if self.defaults else bound


_ROWS_PER_INSERT = 500  # rows one merged INSERT carries at most


def _values_at(sql: str) -> tuple[int, str]:
    """Where the row of a single-row `INSERT INTO t (…) VALUES (…)` starts, and what follows
    it: nothing, or an `ON CONFLICT (…) DO NOTHING` (each row of a multi-row insert is skipped
    on its own conflict, as it would be alone). (-1, "") for any other statement (an upsert
    that updates, RETURNING, INSERT … SELECT, an update): only these inserts' rows can travel
    as one multi-row INSERT."""
    if not sql.startswith("INSERT INTO "):
        return -1, ""
    head, found, row = sql.partition(" VALUES (")
    if not found or " VALUES (" in row or "RETURNING" in row:
        return -1, ""
    row, conflict, action = row.partition(" ON CONFLICT ")
    tail = conflict + action
    if conflict and (not action.endswith(" DO NOTHING") or "%(" in action):
        return -1, ""
    if not row.endswith(")"):
        return -1, ""
    return len(head) + len(" VALUES "), tail


@dataclass(frozen=True)
class _Group:
    """Rows that travel as one statement: one statement's rows, or, merged, the rows of
    every plain insert (or insert-or-ignore) of one shape into a table no other waiting
    statement names."""

    shape: _Shape
    rows: list[Row]


def _groups(queue: Sequence[_Deferred], dialect: Dialect) -> list[_Group]:
    """The queue as statements to send, in order. A plain insert into a table that only
    plain inserts of the same shape name in this batch moves up to the first of them: no
    other waiting statement reads or writes that table, so none can tell (and the batch's
    last statements run after all of them). CreateSubscription's four outbox events, three
    due items and two journal lines are three statements instead of nine."""
    shapes = [_shape(item.statement, frozenset(item.rows[0]), dialect) for item in queue]
    named: dict[object, set[str]] = {}  # table -> the shapes of the statements naming it
    for item, shape in zip(queue, shapes, strict=True):
        key = shape.sql if shape.values_at >= 0 else ""  # "": not a plain insert
        for table in _tables(item.statement):
            named.setdefault(table, set()).add(key)
    groups: list[_Group] = []
    merged: dict[str, _Group] = {}
    for item, shape in zip(queue, shapes, strict=True):
        if shape.values_at >= 0 and named.get(_target(item.statement)) == {shape.sql}:
            group = merged.get(shape.sql)
            if group is not None:
                group.rows.extend(item.rows)
                continue
            group = merged[shape.sql] = _Group(shape, list(item.rows))
            groups.append(group)
        else:
            groups.append(_Group(shape, item.rows))
    return groups


def _texts(group: _Group, binding: ClientBinding, preparing: Preparing) -> list[str]:
    """The group's statements with their values: a plain insert's rows as multi-row INSERTs,
    anything else a statement per row."""
    shape = group.shape
    rows = [shape.bind(row) for row in group.rows]
    if shape.values_at < 0:
        return [_statement(shape, [row], binding, preparing) for row in rows]
    size = MAX_ROWS if len(rows) <= MAX_ROWS else _ROWS_PER_INSERT
    return [
        _statement(shape, rows[i : i + size], binding, preparing) for i in range(0, len(rows), size)
    ]


def _statement(
    shape: _Shape,
    rows: list[dict[str, Any]],
    binding: ClientBinding,
    preparing: Preparing,
    *,
    one_plan: bool = False,
) -> str:
    """One statement of `shape` carrying `rows` (bound already; several only for a plain
    insert): the EXECUTE of its prepared form where it has one (ADR 0072), else its text
    with the values written in. `one_plan`: prepared though not an `INSERT … VALUES`."""
    if len(rows) <= MAX_ROWS:
        form = parametrized(shape.sql, shape.values_at, shape.tail, len(rows), one_plan=one_plan)
        if form is not None and (text := preparing.execute(form, rows)) is not None:
            return text
    texts = [binding(shape.sql, row) for row in rows]
    if len(texts) == 1:
        return texts[0]
    # The head before the row and the tail after it hold no value: the same in every text.
    at, tail = shape.values_at, shape.tail
    return texts[0][:at] + ", ".join([text[at : len(text) - len(tail)] for text in texts]) + tail


def _query(
    queue: Sequence[_Deferred],
    held: Sequence[_Held],
    last: Sequence[_Last],
    dialect: Dialect,
    binding: ClientBinding,
    preparing: Preparing,
) -> tuple[list[str], list[str]]:
    """The batch's statements with their values, in the order they run: the deferred writes
    (merged where nothing can tell), the held rows, the last statements; and beside them,
    for the trace, the same statements without their values. A statement that can be is an
    EXECUTE (its PREPARE, if new, left in `preparing.prepares`)."""
    texts: list[str] = []
    shapes: list[str] = []
    for group in _groups(queue, dialect):
        sent = _texts(group, binding, preparing)
        shapes += [group.shape.sql] * len(sent)
        if COUNTS.keep_texts:
            COUNTS.recent.append(f"[batched x{len(group.rows)}] {group.shape.sql}")
        texts += sent
    for hold in held:
        shape = _shape(hold.statement, frozenset(hold.row), dialect)
        sql = hold.sql_of(shape.sql)
        if COUNTS.keep_texts:
            COUNTS.recent.append(f"[batched, held] {sql}")
        shapes.append(sql)
        bound = shape.bind({**hold.row, **hold.params})
        texts.append(
            _statement(_Shape(sql, {}), [bound], binding, preparing, one_plan=hold.one_plan)
        )
    for end in last:
        if COUNTS.keep_texts:
            COUNTS.recent.append(f"[batched, last] {end.sql}")
        shapes.append(end.sql)
        texts.append(_statement(_Shape(end.sql, {}), [dict(end.params)], binding, preparing))
    return texts, shapes


@dataclass
class BatchCounts:
    """Pipelines sent and statements in them, for `billing.bench.statements` (whose engine
    events see only what SQLAlchemy sends)."""

    pipelines: int = 0
    statements: int = 0
    commits: int = 0  # COMMITs sent at the end of a batch, saving their own round trip
    alone: int = 0  # statements sent alone on a raw psycopg connection (the lean reads)
    recent: list[str] = field(default_factory=list)  # texts, when `keep_texts` is set
    keep_texts: bool = False


COUNTS = BatchCounts()
_MAX_SHAPES = 256
_SHAPES: dict[tuple[int, frozenset[str]], tuple[Executable, _Shape]] = {}


def _shape(statement: Executable, keys: frozenset[str], dialect: Dialect) -> _Shape:
    """Compiled once per (statement, parameter names). Deferred statements are built once at
    import (module constants), so the cache stays as small as the code; the statement is
    kept beside its shape so its id is never reused while cached."""
    cache_key = (id(statement), keys)
    cached = _SHAPES.get(cache_key)
    if cached is not None:
        return cached[1]
    if len(_SHAPES) >= _MAX_SHAPES:
        _SHAPES.clear()  # a statement built per call was deferred: stay bounded regardless
    compiled: Compiled = statement.compile(dialect=dialect, column_keys=sorted(keys))  # type: ignore[attr-defined]
    processors = compiled._bind_processors  # type: ignore[attr-defined]  # what execute applies
    defaults = {
        name: processors[name](value) if name in processors else value
        for name, value in compiled.params.items()
        if name not in keys and value is not None
    }
    values_at, tail = _values_at(compiled.string)
    shape = _Shape(compiled.string, dict(processors), defaults, values_at, tail)
    _SHAPES[cache_key] = (statement, shape)
    return shape


@dataclass
class WriteBatch:
    conn: AsyncConnection
    _queue: list[_Deferred] = field(default_factory=list)
    _last: list[_Last] = field(default_factory=list)
    _held: list[_Held] = field(default_factory=list)

    def add(self, statement: Executable, rows: Row | Sequence[Row]) -> None:
        many = [rows] if isinstance(rows, Mapping) else list(rows)
        if not many:
            return
        last = self._queue[-1] if self._queue else None
        if last is not None and last.statement is statement:
            last.rows.extend(many)  # the same statement again: its rows go together
        else:
            self._queue.append(_Deferred(statement, many))

    def last(
        self,
        sql: str,
        params: Mapping[str, Any],
        receive: Callable[[list[tuple[Any, ...]]], None],
    ) -> None:
        """PostgreSQL: `sql` runs after every deferred write, as the last statement before
        the COMMIT, in the same round trip; `receive` gets its rows once the COMMIT
        succeeded. For a lock that must be held only through the commit (the invoice
        counter, ADR 0064). Unlike a deferred write, no statement before the commit sees
        what it writes, and no flush but the committing one sends it."""
        if self.conn.dialect.name != "postgresql":
            raise RuntimeError("a last statement needs PostgreSQL's batch (one query)")
        self._last.append(_Last(sql, params, receive))

    def hold_last(
        self,
        statement: Executable,
        row: Row,
        sql_of: Callable[[str], str],
        params: Mapping[str, Any],
        *,
        one_plan: bool = False,
    ) -> None:
        """PostgreSQL: `row`, waiting in `statement`'s insert, travels instead as a statement
        of its own after every other deferred write (before the last statements), made by
        `sql_of` from the insert's compiled single-row text and bound with `params` over the
        row's values. Only if the committing flush still has it and no other waiting
        statement names its table (so none can tell it moved); otherwise it is sent where it
        was queued, as it is. The tenant's invoice counter bumped in the invoice's own
        insert, at the end of the transaction: one statement instead of an insert, a
        deferred trigger and an update of the new row (ADR 0070). `one_plan`: the statement
        has no plan to choose whatever its values, so it is prepared like an insert (ADR
        0072)."""
        if self.conn.dialect.name != "postgresql":
            raise RuntimeError("a held row needs PostgreSQL's batch (one query)")
        self._held.append(_Held(statement, row, sql_of, params, one_plan))

    def _take_held(self, queue: list[_Deferred]) -> list[_Held]:
        """The held rows that move to the end: taken out of their inserts in `queue`."""
        held, self._held = self._held, []
        taken: list[_Held] = []
        for hold in held:
            home = next((item for item in queue for row in item.rows if row is hold.row), None)
            if home is None:
                continue  # sent already
            table = _target(hold.statement)
            if any(
                item.statement is not hold.statement and table in _tables(item.statement)
                for item in queue
            ):
                continue  # another waiting statement reads or writes the table: stay put
            home.rows[:] = [row for row in home.rows if row is not hold.row]
            taken.append(hold)
        queue[:] = [item for item in queue if item.rows]
        return taken

    def __len__(self) -> int:
        return len(self._queue)

    def waiting_row(self, statement: Executable, **match: Any) -> dict[str, Any] | None:
        """A row `statement` has yet to send whose values include `match`, or None once it was
        sent. The caller may change its values (never its keys: the statement's shape is
        compiled from them) until the batch is flushed."""
        for item in self._queue:
            if item.statement is statement:
                for row in item.rows:
                    if all(row.get(name) == value for name, value in match.items()):
                        return cast(dict[str, Any], row)
        return None

    def touches(self, statement: Executable) -> bool:
        """Could `statement` see or collide with a waiting write? True when it names a table
        a waiting write changes, or when its tables cannot be known (text)."""
        if not self._queue:
            return False
        if isinstance(statement, TextClause) or not isinstance(statement, ClauseElement):
            return True
        written = {_target(item.statement) for item in self._queue}
        return not written.isdisjoint(_tables(statement))

    async def flush(self, *, commit: bool = False) -> None:
        """Send what waits. `commit` (PostgreSQL): end the query with COMMIT, saving the
        commit's own round trip; only for the transaction's last flush."""
        if not self._queue and not (commit and self._last):
            return
        queue, self._queue = self._queue, []
        if not commit:
            self._held = []  # sent where they wait: their rows go as queued
        if self.conn.dialect.name != "postgresql":
            for item in queue:
                await self.conn.execute(item.statement, item.rows)
            return
        await self._pipeline(queue, commit)

    async def _pipeline(self, queue: list[_Deferred], commit: bool) -> None:
        """All of it as one simple query: the statements bound client-side (literals written
        as psycopg writes them, `store/literals.py`) and joined with `;`. One send and one
        read on the socket; a psycopg pipeline of the same statements cost several times the
        CPU (a communicate step per statement). The server runs them in order, in this
        transaction."""
        dialect = self.conn.dialect
        raw = (await self.conn.get_raw_connection()).driver_connection
        if raw is None:
            raise RuntimeError("the transaction's connection is closed")
        last: list[_Last] = []
        held: list[_Held] = []
        if commit:
            last, self._last = self._last, []
            held = self._take_held(queue)
        binding = ClientBinding(raw)
        preparing = Preparing(raw, binding.literal)
        try:
            texts, shapes = _query(queue, held, last, dialect, binding, preparing)
        except psycopg.Error as exc:  # a value psycopg cannot send (NUL in text)
            raise DBAPIError.instance("(deferred writes)", None, exc, psycopg.Error) from exc
        if preparing.used:
            # Ahead of every statement, each with a result of its own (skipped below).
            texts[:0] = [GENERIC_PLANS, *preparing.prepares]
            if not commit:
                texts.append(CUSTOM_PLANS)  # the rest of the transaction as before
        deferred = len(texts) - len(last)
        COUNTS.pipelines += 1
        COUNTS.statements += len(shapes)  # the batch's own, not the PREPAREs and SETs
        if commit:
            texts.append("COMMIT")
            shapes.append("COMMIT")
            COUNTS.commits += 1
        query = ";\n".join(texts)
        try:
            with raw_span(self.conn.sync_engine, shapes):
                results = await simple_query(raw, query)
            # Each statement has its result, in order: the last statements' rows are theirs.
            loader = Transformer.from_context(raw)
            for end, result in zip(last, results[deferred:], strict=False):
                loader.set_pgresult(result)
                end.receive(loader.load_rows(0, result.ntuples, tuple))
            preparing.sent()
        except psycopg.Error as exc:
            # The same exception SQLAlchemy raises for a statement it sent, so callers (the
            # store's retry on serialization failures) see no difference.
            raise DBAPIError.instance(query, None, exc, psycopg.Error) from exc


async def simple_query(driver: psycopg.AsyncConnection[Any], query: str) -> list[PGresult]:
    """`query` (statements joined by `;`) sent as one simple query on the connection's libpq
    handle, and every statement's result; psycopg's error for the first that failed (the
    server runs none after it). No cursor: psycopg's cursor paid, per statement, a result
    step (`nextset`) and its prepare bookkeeping on top of the one send and one read."""
    encoding = driver.info.encoding
    async with driver.lock:
        driver.pgconn.send_query(query.encode(encoding))
        results: list[PGresult] = await driver.wait(generators.execute(driver.pgconn))
    for result in results:
        if result.status == pq.ExecStatus.FATAL_ERROR:
            raise psycopg.errors.error_from_result(result, encoding=encoding)
    return results


def _target(statement: Executable) -> object:
    """The table a deferred insert, update or delete writes."""
    return getattr(statement, "table", None)


_TABLES: dict[int, tuple[Executable, frozenset[object]]] = {}


def _tables(statement: Executable) -> frozenset[object]:
    """Every table a statement names (its target, its subqueries'), found once per statement
    object: deferred statements and most reads are module constants (one built per call only
    passes through the bounded cache)."""
    cached = _TABLES.get(id(statement))
    if cached is not None:
        return cached[1]
    if len(_TABLES) >= _MAX_SHAPES:
        _TABLES.clear()
    found = frozenset(find_tables(statement, include_crud=True)) | {_target(statement)}  # type: ignore[arg-type]
    _TABLES[id(statement)] = (statement, found)
    return found


@dataclass(frozen=True)
class _Ahead:
    statement: Executable  # kept so its id is not reused while its rows wait
    rows: list[tuple[Any, ...]]


def _ahead_key(statement: Executable, parameters: Row) -> tuple[int, tuple[tuple[str, Any], ...]]:
    return (id(statement), tuple(sorted(parameters.items())))


class BatchedConnection:
    """The connection repositories use: blind writes wait in the batch; a statement that
    reads or writes a table with a waiting write flushes the batch first."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.raw = conn
        self.batch = WriteBatch(conn)
        self._driver: Any = None  # the psycopg connection, once asked for (lean reads)
        # Rows read ahead of their `fetch` (ADR 0069): (statement id, parameters) -> the
        # statement and its rows. Each is given out once, and dropped by any write to a
        # table the statement reads, so a fetch never sees rows older than its own writes.
        self._ahead: dict[tuple[int, tuple[tuple[str, Any], ...]], _Ahead] = {}

    @property
    def dialect(self) -> Dialect:
        return self.raw.dialect

    def read_ahead(
        self, statement: Executable, parameters: Row, rows: list[tuple[Any, ...]]
    ) -> None:
        """`rows` are what `fetch(statement, parameters)` would read now (read in this
        transaction by an earlier query): the next such fetch returns them instead of asking
        the database, unless a write to one of its tables came first."""
        self._ahead[_ahead_key(statement, parameters)] = _Ahead(statement, rows)

    def _forget_ahead(self, statement: Executable) -> None:
        """Drop the rows read ahead that a write by `statement` could change."""
        if not self._ahead:
            return
        if isinstance(statement, TextClause) or not isinstance(statement, ClauseElement):
            self._ahead.clear()  # tables unknown
            return
        if not getattr(statement, "is_dml", False):
            return  # a read changes nothing
        # The table it writes is its target (what its subqueries name, it only reads). Not
        # `_tables(statement)`: a statement built per call (an update of its values) would
        # be walked whole each time, half of a FinalizeInvoice's CPU.
        written = _target(statement)
        for key, ahead in list(self._ahead.items()):
            if written in _tables(ahead.statement):
                del self._ahead[key]

    def defer(self, statement: Executable, rows: Row | Sequence[Row]) -> None:
        self._forget_ahead(statement)
        self.batch.add(statement, rows)

    def last(
        self,
        sql: str,
        params: Mapping[str, Any],
        receive: Callable[[list[tuple[Any, ...]]], None],
    ) -> None:
        self.batch.last(sql, params, receive)

    async def flush(self, *, commit: bool = False) -> None:
        await self.batch.flush(commit=commit)

    async def execute(self, statement: Executable, parameters: Any = None) -> CursorResult[Any]:
        self._forget_ahead(statement)
        if self.batch.touches(statement):
            await self.batch.flush()
        return await self.raw.execute(statement, parameters)

    async def scalar(self, statement: Executable, parameters: Any = None) -> Any:
        self._forget_ahead(statement)
        if self.batch.touches(statement):
            await self.batch.flush()
        return await self.raw.scalar(statement, parameters)

    async def fetch(self, statement: Executable, parameters: Row) -> list[tuple[Any, ...]]:
        """One read, on PostgreSQL through the transaction's psycopg connection alone: no
        SQLAlchemy execution context, events or result processing (ADR 0065: 100-400 µs of
        CPU per statement on the write path). Rows as psycopg loads them, so only for simple
        columns (text, integers); `statement` a module constant, like a deferred write's.
        Elsewhere through SQLAlchemy, with the same rows."""
        if self._ahead and (ahead := self._ahead.pop(_ahead_key(statement, parameters), None)):
            return ahead.rows
        if self.batch.touches(statement):
            await self.batch.flush()
        if self.dialect.name != "postgresql":
            return [tuple(row) for row in await self.raw.execute(statement, parameters)]
        driver = await self.driver()
        shape = _shape(statement, frozenset(parameters), self.dialect)
        COUNTS.alone += 1
        if COUNTS.keep_texts:
            COUNTS.recent.append(f"[lean] {shape.sql}")
        try:
            with raw_span(self.raw.sync_engine, [shape.sql], "SELECT"):
                async with driver.cursor() as cursor:
                    await cursor.execute(shape.sql, shape.bind(parameters))
                    rows: list[tuple[Any, ...]] = await cursor.fetchall()
                    return rows
        except psycopg.Error as exc:
            raise DBAPIError.instance(shape.sql, None, exc, psycopg.Error) from exc

    async def driver(self) -> Any:
        """The transaction's psycopg connection (the same for the whole transaction)."""
        if self._driver is None:
            self._driver = (await self.raw.get_raw_connection()).driver_connection
            if self._driver is None:
                raise RuntimeError("the transaction's connection is closed")
        return self._driver

    async def open_together(
        self, statements: Sequence[tuple[Executable, Row]]
    ) -> list[list[tuple[Any, ...]]]:
        """PostgreSQL, first in a transaction: BEGIN and these reads as one simple query, bound
        client-side like the write batch (ADR 0065). One send and one read on the socket,
        where a psycopg pipeline of the same reads paid a send, a poll and a result step per
        statement (a fifth of CreateCustomer's CPU). Each statement still starts after the one
        before it finished (READ COMMITTED: its own snapshot), so a read placed after a lock
        sees what the lock's previous holder committed, as in `read_together`. The first
        failing statement ends the query (the transaction is then aborted and rolled back by
        the caller's exit). Rows as psycopg loads them: simple columns only."""
        for statement, _ in statements:
            self._forget_ahead(statement)  # a compare-and-set among them writes
        await self.batch.flush()
        driver = await self.driver()
        shapes = [_shape(s, frozenset(p), self.dialect) for s, p in statements]
        binding = ClientBinding(driver)
        try:
            texts = [
                binding(shape.sql, shape.bind(params))
                for shape, (_, params) in zip(shapes, statements, strict=True)
            ]
        except psycopg.Error as exc:  # a value psycopg cannot send (NUL in text)
            raise DBAPIError.instance("(opening query)", None, exc, psycopg.Error) from exc
        begin = driver.pgconn.transaction_status == pq.TransactionStatus.IDLE
        query = ";\n".join((["BEGIN"] if begin else []) + texts)
        COUNTS.pipelines += 1
        COUNTS.statements += len(statements)
        if COUNTS.keep_texts:
            COUNTS.recent += [f"[opening query] {shape.sql}" for shape in shapes]
        try:
            with raw_span(self.raw.sync_engine, [shape.sql for shape in shapes]):
                results = await simple_query(driver, query)
        except psycopg.Error as exc:
            raise DBAPIError.instance(query, None, exc, psycopg.Error) from exc
        loader = Transformer.from_context(driver)
        rows: list[list[tuple[Any, ...]]] = []
        for result in results[1:] if begin else results:
            loader.set_pgresult(result)
            rows.append(loader.load_rows(0, result.ntuples, tuple))
        return rows

    async def read_together(
        self, statements: Sequence[tuple[Executable, Row]]
    ) -> list[list[tuple[Any, ...]]]:
        """PostgreSQL: several reads in one round trip (one pipeline), each still with its
        own snapshot, taken after the one before it finished (READ COMMITTED), so a read
        placed after a lock sees what the lock's previous holder committed. Rows come back
        as psycopg loads them (no SQLAlchemy result processing): for simple columns only."""
        await self.batch.flush()
        raw = (await self.raw.get_raw_connection()).driver_connection
        if raw is None:
            raise RuntimeError("the transaction's connection is closed")
        cursors = []
        COUNTS.pipelines += 1
        COUNTS.statements += len(statements)
        shapes = [_shape(s, frozenset(p), self.dialect) for s, p in statements]
        try:
            with raw_span(self.raw.sync_engine, [shape.sql for shape in shapes]):
                async with raw.pipeline():
                    for shape, (_, params) in zip(shapes, statements, strict=True):
                        if COUNTS.keep_texts:
                            COUNTS.recent.append(f"[read pipeline] {shape.sql}")
                        cursor = raw.cursor()
                        await cursor.execute(shape.sql, shape.bind(params))
                        cursors.append(cursor)
            return [await cursor.fetchall() for cursor in cursors]
        except psycopg.Error as exc:
            raise DBAPIError.instance("(read pipeline)", None, exc, psycopg.Error) from exc

    async def get_raw_connection(self) -> Any:
        self._ahead.clear()  # what the caller sends on it is not seen here
        await self.batch.flush()
        return await self.raw.get_raw_connection()
