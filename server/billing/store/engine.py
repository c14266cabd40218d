"""Engines for both dialects, with SQLite set up for safe concurrent use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.url import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from billing.store.pg_connection import ArmedConnection

SQLITE_BUSY_TIMEOUT_MS = 10_000
WRITE_OPTION = "billing_write"  # execution option: this transaction writes
POOL_RECYCLE_S = 1800


@dataclass(frozen=True)
class SessionTimeouts:
    """PostgreSQL session timeouts set on every pooled connection, in milliseconds (0: none).
    Without them one stuck statement, a lock another session holds, or a transaction left
    open by a hung caller holds its connection (and its locks) for ever; with them the
    server answers DEADLINE_EXCEEDED or ABORTED (`sql_store`) and the connection is freed.
    The idempotency key's advisory lock is a try-lock, so lock_timeout never delays it."""

    statement_ms: int = 30_000
    lock_ms: int = 5_000
    idle_in_transaction_ms: int = 60_000

    def options(self) -> str:
        return (
            f" -c statement_timeout={self.statement_ms}"
            f" -c lock_timeout={self.lock_ms}"
            f" -c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}"
        )


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(
    url: str, *, pool_size: int = 10, timeouts: SessionTimeouts | None = None
) -> AsyncEngine:
    """`timeouts`: PostgreSQL session timeouts (none for migrations and tools)."""
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it costs a round trip per checkout. Connections are recycled instead, and a
    # dead one fails its transaction, which the caller may retry.
    return create_async_engine(
        url,
        pool_size=pool_size,
        # No overflow: a connection opened past the pool is closed when returned, so under
        # load every call beyond pool_size paid a PostgreSQL backend fork (connect + close
        # were a tenth of a GetCustomer profile). Calls queue for a pooled connection instead.
        max_overflow=0,
        pool_recycle=POOL_RECYCLE_S,
        # psycopg prepares statements it sees often, and PostgreSQL may then settle on one
        # generic plan per connection. Root cause (issue 12, reproduced with EXPLAIN): a
        # generic plan built while `invoices` is empty costs every index that starts with
        # tenant_id the same as the primary key (1 row), so it may pick (tenant_id, number)
        # or (tenant_id, subscription_id) for `… WHERE tenant_id, id`; after an ANALYZE of
        # the empty table, a sequential scan. The plan is kept until autoanalyze invalidates
        # it, which lags behind growth: every execution then walks the tenant's whole index.
        # Built on a loaded table the generic plan picks the primary key. Custom plans see
        # the values and the table as it is now, and the parse is still saved; the
        # alternative, no server-side prepares (prepare_threshold=None), loses that too.
        connect_args={
            "options": session_options(timeouts),
            # Pipelines that leave idle_in_transaction_session_timeout armed (pg_connection).
            "async_creator_fn": ArmedConnection.connect,
        },
    )


def session_options(timeouts: SessionTimeouts | None) -> str:
    """libpq `options` of every PostgreSQL connection the server opens (see create_engine)."""
    return "-c plan_cache_mode=force_custom_plan" + (
        timeouts.options() if timeouts is not None else ""
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves: pysqlite's implicit transactions cannot do IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoint; WAL keeps it safe
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn: Connection) -> None:
        # Writers take the write lock up front, so a read-then-write transaction can never
        # fail half way with SQLITE_BUSY when another writer got there first.
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # single-statement reads need no transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")
