"""The Store the use cases ask for, over one SQLAlchemy async engine.

SQLite (one server process): writes are serialized in-process by a lock before BEGIN
IMMEDIATE, so they queue on the event loop instead of spinning in SQLite's busy handler; keys
in flight are tracked in a set. PostgreSQL (many processes): a transaction-scoped advisory
lock on the idempotency key; a second holder is refused at once.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg
from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from billing.app.hot_cache import NO_CACHE, Changes, HotCache
from billing.app.ports import IdempotencyKey, ReadAhead, RetryableConflict
from billing.app.records import OutboxEvent
from billing.domain.customers import Customer
from billing.domain.errors import (
    DatabaseUnavailable,
    DeadlineExceeded,
    RequestInProgress,
    RowsLocked,
    ValueDoesNotFit,
)
from billing.observability.sql_spans import raw_span
from billing.store import read_ahead
from billing.store.batch import COUNTS, BatchedConnection
from billing.store.billing import (
    SqlBillingCycles,
    SqlClocks,
    SqlCredit,
    SqlCreditNotes,
    SqlInvoices,
    SqlNumbering,
    SqlPendingItems,
    SqlSubscriptions,
)
from billing.store.cancellations import SqlCancellations
from billing.store.contracts import SqlContracts
from billing.store.coupons import SqlCoupons
from billing.store.crypto import KeyRing
from billing.store.customers import LEAN_GET, SqlCustomers, lean_get
from billing.store.due_batch import SqlDueBatch
from billing.store.due_work import SqlDueWork
from billing.store.due_work_admin import SqlDueWorkAdmin
from billing.store.dunning import SqlDunningCases
from billing.store.engine import WRITE_OPTION
from billing.store.invoice_deliveries import SqlInvoiceDeliveries
from billing.store.lean_reads import LeanPool
from billing.store.ledger import SqlJournal, SqlReceivables
from billing.store.mrr import SqlMrr
from billing.store.payments import (
    SqlGatewayCredentials,
    SqlPaymentAttempts,
    SqlPaymentMethods,
    SqlPayments,
)
from billing.store.recognition import SqlRevenueSchedules
from billing.store.records import SqlAudit, SqlIdempotency, SqlOutbox
from billing.store.refunds import SqlDisputes, SqlGatewayEvents, SqlRefunds
from billing.store.rule_sets import SqlRuleSets
from billing.store.tax_ledger import SqlTaxLedger
from billing.store.usage import SqlUsage

# SQLSTATEs a retry of the whole transaction may fix.
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected
# The session timeouts (store/engine.py SessionTimeouts). Not retried here: a retry would
# wait as long again while the caller waits; the caller decides.
_LOCK_TIMEOUT = "55P03"  # lock_not_available: waited past lock_timeout
_STATEMENT_TIMEOUT = "57014"  # query_canceled: statement_timeout (or a cancel)
_IDLE_TIMEOUT = "25P03"  # idle_in_transaction_session_timeout ended the session
# string_data_right_truncation, numeric_value_out_of_range, datetime_field_overflow,
# character_not_in_repertoire, untranslatable_character: a value, not the code, is at fault.
_DOES_NOT_FIT_SQLSTATES = {"22001", "22003", "22008", "22021", "22P05"}


class SqlTransaction:
    """Repositories sharing one connection, hence one transaction."""

    def __init__(self, raw: AsyncConnection, keys: KeyRing | None = None) -> None:
        conn = BatchedConnection(raw)
        self.connection = conn
        self.changes = Changes()  # what the hot cache must drop once this commits (ADR 0066)
        self.customers = SqlCustomers(conn)
        self.idempotency = SqlIdempotency(conn)
        self.outbox = SqlOutbox(conn)
        self.audit = SqlAudit(conn)
        self.rule_sets = SqlRuleSets(conn, self.changes)
        self.subscriptions = SqlSubscriptions(conn, self.changes)
        self.invoices = SqlInvoices(conn)
        self.pending_items = SqlPendingItems(conn)
        self.billing_cycles = SqlBillingCycles(conn)
        self.credit = SqlCredit(conn)
        self.clocks = SqlClocks(conn)
        self.due_work = SqlDueWork(conn)
        self.usage = SqlUsage(conn)
        self.numbering = SqlNumbering(conn)
        self.coupons = SqlCoupons(conn)
        self.credit_notes = SqlCreditNotes(conn)
        self.due_batch = SqlDueBatch(conn, self.changes)
        self.tax_ledger = SqlTaxLedger(conn)
        # Payments (ADR 0034): tokens and credentials pass the key ring on the way in and out.
        self.payment_methods = SqlPaymentMethods(conn, keys)
        self.payment_attempts = SqlPaymentAttempts(conn)
        self.payments = SqlPayments(conn)
        self.gateway_credentials = SqlGatewayCredentials(conn, keys)
        self.refunds = SqlRefunds(conn)
        self.disputes = SqlDisputes(conn)
        self.gateway_events = SqlGatewayEvents(conn)
        self.dunning_cases = SqlDunningCases(conn)
        self.journal = SqlJournal(conn)  # ADR 0051
        self.receivables = SqlReceivables(conn)
        self.revenue_schedules = SqlRevenueSchedules(conn)  # ADR 0054
        self.mrr = SqlMrr(conn)  # ADR 0055
        self.cancellations = SqlCancellations(conn)
        self.contracts = SqlContracts(conn)
        self.due_work_admin = SqlDueWorkAdmin(conn)  # ADR 0058
        self.invoice_deliveries = SqlInvoiceDeliveries(conn)  # ADR 0058

    def committed_events(self) -> list[OutboxEvent]:
        """The outbox events this transaction wrote (each path's), for after its commit."""
        return self.outbox.added + self.due_batch.added_events

    async def flush(self) -> None:
        """Send the deferred blind writes (before commit; reads flush on their own)."""
        await self.connection.flush()


class SqlStore:
    def __init__(
        self, engine: AsyncEngine, keys: KeyRing | None = None, lean: LeanPool | None = None
    ) -> None:
        self.engine = engine
        # PostgreSQL: the hottest reads' own autocommit connections (ADR 0065); None: those
        # reads go through read() like any other.
        self.lean = lean
        self.keys = keys  # None: a store that never touches tokens or credentials
        self.is_sqlite = engine.dialect.name == "sqlite"
        self._sqlite_write_lock = asyncio.Lock()
        self._sqlite_keys_in_flight: set[tuple[str, str]] = set()  # IdempotencyKey.slot
        # Told the outbox events of every committed write (the metrics' counters, ADR 0061);
        # never of a rolled-back one, so nothing is counted that did not happen.
        self.committed: Callable[[list[OutboxEvent]], None] | None = None
        # Told what every committed write changed, before the call replies (ADR 0066).
        self.cache: HotCache = NO_CACHE

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqlTransaction]:
        """Autocommit reads: each statement sees what is committed, and no BEGIN/ROLLBACK
        round trips are spent on it. A use case that needs several statements to agree uses
        write() instead."""
        try:
            async with self.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                yield SqlTransaction(conn, self.keys)
        except (DBAPIError, OverflowError) as exc:
            _raise_as_domain_error(exc)
            raise

    async def customer(self, tenant_id: str, customer_id: str) -> Customer | None:
        if self.lean is None:
            async with self.read() as tx:
                return await tx.customers.get(tenant_id, customer_id)
        try:
            async with self.lean.connection() as conn:
                COUNTS.alone += 1
                with raw_span(self.engine.sync_engine, [LEAN_GET], "SELECT"):
                    return await lean_get(conn, tenant_id, customer_id)
        except psycopg.Error as exc:
            # What read() would have raised: the same exception type and the same mapping.
            error = DBAPIError.instance(LEAN_GET, None, exc, psycopg.Error)
            assert isinstance(error, DBAPIError)  # a psycopg.Error always makes one
            _raise_as_domain_error(error)
            raise error from exc

    @asynccontextmanager
    async def write(
        self, key: IdempotencyKey | None, ahead: ReadAhead | None = None
    ) -> AsyncIterator[SqlTransaction]:
        try:
            if self.is_sqlite:  # no round trips to save: `ahead` is not needed
                async with self._sqlite_write(key) as tx:
                    yield tx
            else:
                async with self._postgres_write(key, ahead) as tx:
                    yield tx
            if self.committed is not None and (events := tx.committed_events()):
                self.committed(events)
            if tx.changes:
                await self.cache.invalidate(tx.changes)
        except (DBAPIError, OverflowError) as exc:
            if isinstance(exc, DBAPIError) and _is_retryable(exc):
                raise RetryableConflict(str(exc.orig)) from exc
            _raise_as_domain_error(exc)
            raise

    @asynccontextmanager
    async def _sqlite_write(self, key: IdempotencyKey | None) -> AsyncIterator[SqlTransaction]:
        if key is not None:
            if key.slot in self._sqlite_keys_in_flight:
                raise RequestInProgress(key.request_id)
            self._sqlite_keys_in_flight.add(key.slot)
        try:
            async with self._sqlite_write_lock, self.engine.connect() as conn:
                await conn.execution_options(**{WRITE_OPTION: True})
                async with conn.begin():
                    tx = SqlTransaction(conn, self.keys)
                    yield tx
                    await tx.flush()
        finally:
            if key is not None:
                self._sqlite_keys_in_flight.discard(key.slot)

    @asynccontextmanager
    async def _postgres_write(
        self, key: IdempotencyKey | None, ahead: ReadAhead | None
    ) -> AsyncIterator[SqlTransaction]:
        async with self.engine.begin() as conn:
            tx = SqlTransaction(conn, self.keys)
            if key is not None:
                await _open_write(tx, key, ahead)
            yield tx
            # The deferred writes and the COMMIT in one round trip; SQLAlchemy's commit
            # then finds the transaction closed (psycopg makes it a no-op).
            await tx.connection.flush(commit=True)


_TRY_LOCK = select(func.pg_try_advisory_xact_lock(bindparam("lock_id", type_=BigInteger)))


async def _open_write(
    tx: SqlTransaction, key: IdempotencyKey, ahead: ReadAhead | None = None
) -> None:
    """What every keyed write asks first, in one round trip (with the BEGIN): the key's lock,
    then the key's stored result and the tenant's active rule set, each read after the lock
    is held. Four round trips were one per statement, each through a busy event loop; then
    one psycopg pipeline; now one client-bound query (ADR 0065). `ahead`: the write's reads
    about its customer, after those (ADR 0069)."""
    reads = [] if ahead is None else read_ahead.statements(key.tenant_id, ahead)
    got, key_rows, rule_rows, *ahead_rows = await tx.connection.open_together(
        [
            (_TRY_LOCK, {"lock_id": _lock_id(key)}),
            tx.idempotency.lookup(key),
            tx.rule_sets.lookup_active(key.tenant_id),
            *reads,
        ]
    )
    if not got[0][0]:
        raise RequestInProgress(key.request_id)
    tx.idempotency.prefetched(key, key_rows)
    tx.rule_sets.prefetched(key.tenant_id, rule_rows)
    if ahead is not None:
        read_ahead.receive(tx.connection, tx.journal, key.tenant_id, ahead, ahead_rows)


def _lock_id(key: IdempotencyKey) -> int:
    """A signed 64-bit advisory lock id for the key's slot, so the same request_id on two
    RPCs at once contends too (collisions only cost a spurious retry)."""
    digest = hashlib.blake2b(
        f"{key.tenant_id}\x00{key.request_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _raise_as_domain_error(exc: DBAPIError | OverflowError) -> None:
    """The caller's error for what the database refused or could not do (a session timeout,
    an unreachable database, a value that does not fit); returns for anything else, which
    the caller re-raises."""
    if isinstance(exc, DBAPIError):
        _raise_timeout(exc)
        _raise_unavailable(exc)
    if (detail := _does_not_fit(exc)) is not None:
        raise ValueDoesNotFit(detail) from exc


def _raise_timeout(exc: DBAPIError) -> None:
    """A statement or lock wait cut by a session timeout, as the caller's error."""
    sqlstate = _timeout_sqlstate(exc)
    if sqlstate == _LOCK_TIMEOUT:
        raise RowsLocked(
            "rows this call needs stayed locked by another transaction past the lock"
            " timeout; nothing changed, retry with the same request_id"
        ) from exc
    if sqlstate == _STATEMENT_TIMEOUT:
        raise DeadlineExceeded(
            "a database statement ran past the statement timeout and was cancelled; nothing changed"
        ) from exc
    if sqlstate == _IDLE_TIMEOUT:
        raise DeadlineExceeded(
            "the transaction stayed idle past the server's limit and was ended; nothing changed"
        ) from exc


# Connection exceptions (class 08), too many connections, and a server shutting down or
# starting: the database is not there for now, whatever the call asked.
_UNAVAILABLE_SQLSTATES = frozenset({"53300", "57P01", "57P02", "57P03"})


def _raise_unavailable(exc: DBAPIError) -> None:
    """A database that could not be reached, or was lost mid-call, as UNAVAILABLE (retry with
    the same request_id) instead of INTERNAL. A psycopg OperationalError without a SQLSTATE
    is a failure of the connection itself (connect refused, server closed it)."""
    orig = exc.orig
    if not isinstance(orig, psycopg.OperationalError):
        return
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is None or sqlstate.startswith("08") or sqlstate in _UNAVAILABLE_SQLSTATES:
        raise DatabaseUnavailable(
            "the database is not reachable right now; retry with the same request_id"
        ) from exc


def _timeout_sqlstate(exc: BaseException) -> str | None:
    """The session timeout's SQLSTATE in the exception or what it was raised while handling:
    a session ended by the idle timeout fails its COMMIT, and then the rollback on the way
    out fails too ("the connection is lost"), hiding the first error behind the second."""
    seen: BaseException | None = exc
    for _ in range(8):  # a short chain; bounded all the same
        if seen is None:
            return None
        sqlstate = getattr(getattr(seen, "orig", seen), "sqlstate", None)
        if sqlstate in {_LOCK_TIMEOUT, _STATEMENT_TIMEOUT, _IDLE_TIMEOUT}:
            return str(sqlstate)
        seen = seen.__cause__ or seen.__context__
    return None


def _does_not_fit(exc: DBAPIError | OverflowError) -> str | None:
    """The database's words when it refused a value (the last line of defence behind the
    use cases' own checks), or None for any other failure. The transaction rolls back."""
    if isinstance(exc, OverflowError):  # sqlite3: an int past SQLite's 64-bit INTEGER
        return "a number is beyond the 64-bit integer range"
    orig = exc.orig
    if not isinstance(orig, psycopg.DataError):
        return None
    if getattr(orig, "sqlstate", None) in _DOES_NOT_FIT_SQLSTATES:
        return str(orig.diag.message_primary or orig).strip()
    if "NUL (0x00)" in str(orig):  # psycopg refuses it before sending
        return "text must not contain NUL characters"
    return None


def _is_retryable(exc: DBAPIError) -> bool:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRYABLE_SQLSTATES:
        return True
    if _is_key_stored_concurrently(exc):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def _is_key_stored_concurrently(exc: DBAPIError) -> bool:
    """The idempotency key's insert met a live key: it was stored by a transaction that did
    not hold our key lock (an advisory-lock id collision). A retry finds the stored result."""
    if isinstance(exc.orig, psycopg.errors.UniqueViolation):
        return exc.orig.diag.constraint_name == "pk_idempotency_keys"
    message = str(exc.orig)
    return "UNIQUE constraint failed: idempotency_keys." in message
