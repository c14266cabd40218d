"""The sandbox's own books: every charge, authorization, capture, void and refund it took,
with the money that really moved. Tests read it to prove what the core cannot prove about
itself: no invoice charged twice, every charge matched by one succeeded attempt.

A SQLite file (the gateway connection's endpoint) shared by every server process: WAL so
readers never block the writer, `BEGIN IMMEDIATE` so each decision-and-write is one
serialized transaction across processes, a busy timeout instead of errors under contention.
A committed write is in the WAL file before the call answers, so it outlives a SIGKILL of
the process that made it (synchronous=NORMAL loses only on power loss: a sandbox's risk).
No endpoint: an in-memory database, one per gateway connection.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Any

BUSY_TIMEOUT_MS = 30_000  # several servers writing at once wait for each other, never fail

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    kind TEXT NOT NULL,              -- charge, refund, capture, void
    idempotency_key TEXT NOT NULL,
    reference TEXT NOT NULL,         -- ch_..., re_..., cp_..., vo_...
    state TEXT NOT NULL,             -- succeeded, failed, pending, requires_action, voided
    behaviour TEXT NOT NULL,         -- billing_builtin.sandbox.behaviour.Behaviour
    decline_code TEXT NOT NULL,      -- state failed: why
    amount_minor INTEGER NOT NULL,   -- asked for
    moved_minor INTEGER NOT NULL,    -- really taken (charge) or paid back (refund)
    currency TEXT NOT NULL,
    token TEXT NOT NULL,
    capture INTEGER NOT NULL,        -- charge: 0 for an authorization not captured yet
    target TEXT NOT NULL,            -- refund, capture, void: the charge's reference
    metadata TEXT NOT NULL,          -- JSON: tenant, invoice, attempt
    request_hash TEXT NOT NULL,      -- the same key with other parameters is refused
    answer TEXT NOT NULL,            -- JSON: what the first call answered (replayed)
    lookups INTEGER NOT NULL,
    created_at REAL NOT NULL,
    pid INTEGER NOT NULL,
    PRIMARY KEY (kind, idempotency_key)
);
CREATE UNIQUE INDEX IF NOT EXISTS operations_reference ON operations (reference);
CREATE INDEX IF NOT EXISTS operations_target ON operations (target) WHERE target != '';
CREATE TABLE IF NOT EXISTS calls (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    op TEXT NOT NULL,                -- purchase, authorize, capture, void, refund, lookup
    idempotency_key TEXT NOT NULL,
    answered TEXT NOT NULL,          -- the status answered, or unavailable
    at REAL NOT NULL,
    pid INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class Entry:
    """One operation in the ledger."""

    kind: str
    idempotency_key: str
    reference: str
    state: str
    behaviour: str
    decline_code: str
    amount_minor: int
    moved_minor: int
    currency: str
    token: str = ""
    capture: bool = True
    target: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)
    request_hash: str = ""
    answer: Mapping[str, Any] = field(default_factory=dict)
    lookups: int = 0
    created_at: float = 0.0
    pid: int = 0

    @property
    def invoice(self) -> str:
        return self.metadata.get("invoice", "")

    @property
    def attempt(self) -> str:
        return self.metadata.get("attempt", "")

    @property
    def tenant(self) -> str:
        return self.metadata.get("tenant", "")


@dataclass(frozen=True)
class Call:
    seq: int
    op: str
    idempotency_key: str
    answered: str
    at: float
    pid: int


_COLUMNS = tuple(f.name for f in fields(Entry))


class LedgerTx:
    """The statements of one ledger transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def find(self, kind: str, idempotency_key: str) -> Entry | None:
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM operations WHERE kind = ? AND idempotency_key = ?",
            (kind, idempotency_key),
        ).fetchone()
        return _entry(row) if row else None

    def find_reference(self, reference: str) -> Entry | None:
        row = self._db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM operations WHERE reference = ?", (reference,)
        ).fetchone()
        return _entry(row) if row else None

    def refunded_minor(self, charge_reference: str) -> int:
        row = self._db.execute(
            "SELECT COALESCE(SUM(moved_minor), 0) FROM operations"
            " WHERE kind = 'refund' AND target = ?",
            (charge_reference,),
        ).fetchone()
        return int(row[0])

    def insert(self, entry: Entry) -> None:
        values = [getattr(entry, name) for name in _COLUMNS]
        values[_COLUMNS.index("metadata")] = json.dumps(dict(entry.metadata), sort_keys=True)
        values[_COLUMNS.index("answer")] = json.dumps(dict(entry.answer), sort_keys=True)
        values[_COLUMNS.index("capture")] = int(entry.capture)
        self._db.execute(
            f"INSERT INTO operations ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _COLUMNS)})",
            values,
        )

    def update(self, entry: Entry, **changes: Any) -> Entry:
        allowed = {"state", "moved_minor", "lookups", "capture", "decline_code"}
        assert set(changes) <= allowed, changes  # an operation's identity never changes
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [int(v) if isinstance(v, bool) else v for v in changes.values()]
        self._db.execute(
            f"UPDATE operations SET {assignments} WHERE kind = ? AND idempotency_key = ?",
            (*values, entry.kind, entry.idempotency_key),
        )
        found = self.find(entry.kind, entry.idempotency_key)
        assert found is not None
        return found

    def log(self, op: str, idempotency_key: str, answered: str) -> None:
        self._db.execute(
            "INSERT INTO calls (op, idempotency_key, answered, at, pid) VALUES (?, ?, ?, ?, ?)",
            (op, idempotency_key, answered, time.time(), os.getpid()),
        )


class Ledger:
    """One connection to the ledger at `path` ("" : in memory), serialized by a lock within
    the process; across processes SQLite's own locking serializes the writers."""

    def __init__(self, path: str = "") -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    @property
    def in_memory(self) -> bool:
        return not self.path

    @contextmanager
    def transaction(self) -> Iterator[LedgerTx]:
        """One `BEGIN IMMEDIATE` transaction: the write lock is taken before reading, so a
        decision made on what was read cannot race another process's write."""
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                yield LedgerTx(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def entries(self, kind: str | None = None) -> list[Entry]:
        with self._lock:
            db = self._connection()
            where, args = ("WHERE kind = ?", (kind,)) if kind else ("", ())
            rows = db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM operations {where}"
                " ORDER BY created_at, reference",
                args,
            ).fetchall()
        return [_entry(row) for row in rows]

    def calls(self) -> list[Call]:
        with self._lock:
            rows = (
                self._connection()
                .execute(
                    "SELECT seq, op, idempotency_key, answered, at, pid FROM calls ORDER BY seq"
                )
                .fetchall()
            )
        return [Call(*row) for row in rows]

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _connection(self) -> sqlite3.Connection:
        # A forked child must not share its parent's SQLite handle: reopen per process.
        if self._db is None or self._pid != os.getpid():
            self._db = _open(self.path)
            self._pid = os.getpid()
        return self._db


def _open(path: str) -> sqlite3.Connection:
    # isolation_level=None: we say BEGIN and COMMIT ourselves (the module's implicit
    # transactions would begin DEFERRED and could fail to upgrade under contention).
    db = sqlite3.connect(
        path or ":memory:",
        timeout=BUSY_TIMEOUT_MS / 1000,
        isolation_level=None,
        check_same_thread=False,  # used from worker threads, always under Ledger._lock
    )
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if path:
        _use_wal(db)
        db.execute("PRAGMA synchronous = NORMAL")
    # Creating the tables takes the write lock too: several processes may open a new file.
    db.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
    return db


def _use_wal(db: sqlite3.Connection) -> None:
    # WAL is a property of the file, set once; two processes opening a new file at once may
    # both try, and the switch answers "locked" without waiting on the busy timeout.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if db.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _entry(row: tuple[Any, ...]) -> Entry:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["metadata"] = json.loads(values["metadata"])
    values["answer"] = json.loads(values["answer"])
    values["capture"] = bool(values["capture"])
    return Entry(**values)


# --- for tests: read a ledger file -------------------------------------------------------


def charges(path: str) -> list[Entry]:
    """The charges that really took money (captured), oldest first; `.invoice` and
    `.attempt` come from the request's metadata."""
    return [e for e in _read(path, "charge") if e.moved_minor > 0]


def refunds(path: str) -> list[Entry]:
    """The refunds that really paid money back."""
    return [e for e in _read(path, "refund") if e.moved_minor > 0]


def operations(path: str, kind: str | None = None) -> list[Entry]:
    """Every operation, money moved or not (declines, authorizations, pending...)."""
    return _read(path, kind)


def calls(path: str) -> list[Call]:
    """Every call the sandbox answered, in order (purchases, lookups, refunds...)."""
    ledger = Ledger(path)
    try:
        return ledger.calls()
    finally:
        ledger.close()


def _read(path: str, kind: str | None) -> list[Entry]:
    if not path:
        raise ValueError("an in-memory ledger is read through its gateway's `ledger`")
    ledger = Ledger(path)
    try:
        return ledger.entries(kind)
    finally:
        ledger.close()
