"""Migrated template databases the tests' fresh databases are copied from (ADR 0056).

Migrating costs ~1.3 s per PostgreSQL database and ~0.4 s per SQLite file; copying a migrated
template costs ~0.15 s and a file copy. A template's name carries a hash of everything that
decides the migrated schema, so a migration edit makes a new template and an old one is never
used. A template appears under its final name only once fully migrated (built under another
name, then renamed or moved into place), so a build that died half-way is never used either.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import alembic
import psycopg
import sqlalchemy
from psycopg import errors

from billing.store.migrate import MIGRATIONS, upgrade
from workers import worker_id

STORE = MIGRATIONS.parent
# Besides the migrations: the column types and engine setup they import, and the runner.
SCHEMA_INPUTS = ("types.py", "engine.py", "migrate.py")
TEMPLATE_PREFIX = "billing_tmpl_"
BUILDING_PREFIX = "billing_tmplb_"
# Templates of other hashes (other branches, older checkouts) are dropped once this old.
RETIRE_AFTER_S = 24 * 3600
# pg_advisory_lock key: one template builder at a time across workers and concurrent runs.
BUILD_LOCK = 0x0B111_0056


def schema_key(store: Path = STORE) -> str:
    """A hash of the migration files, what they import and the tool versions."""
    migrations = store / MIGRATIONS.name
    files = sorted(p for p in migrations.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    files += [store / name for name in SCHEMA_INPUTS]
    digest = hashlib.sha256(
        f"sqlalchemy {sqlalchemy.__version__} alembic {alembic.__version__}".encode()
    )
    for path in files:
        digest.update(str(path.relative_to(store)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def _server_dsn(admin_dsn: str, database: str) -> str:
    return f"postgresql+psycopg://{admin_dsn.rsplit('/', 1)[0].removeprefix('postgresql://')}/{database}"


class PostgresTemplates:
    """Clones fresh databases from the migrated template of the current schema."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.template = f"{TEMPLATE_PREFIX}{schema_key()}"
        self._ready = False

    def url(self, database: str) -> str:
        return _server_dsn(self.admin_dsn, database)

    def clone(self, name: str) -> None:
        for attempt in (1, 2):
            if not self._ready:
                self._ensure_template()
            try:
                with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                    conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                return
            except errors.InvalidCatalogName:
                # Dropped since (another checkout retired it as old): build it again, once.
                self._ready = False
                if attempt == 2:
                    raise

    def _ensure_template(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_advisory_lock(%s)", (BUILD_LOCK,))
            try:
                # Under the lock no build is running: any half-built database is a dead one's.
                for (stale,) in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (BUILDING_PREFIX + "%",),
                ).fetchall():
                    conn.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
                self._retire_others(conn)
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (self.template,)
                ).fetchone()
                if not exists:
                    self._build(conn)
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (BUILD_LOCK,))
        self._ready = True

    def _build(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        building = f"{BUILDING_PREFIX}{uuid.uuid4().hex[:12]}"
        conn.execute(f'CREATE DATABASE "{building}"')
        try:
            upgrade(self.url(building))  # disposes its engine: nothing stays connected
            conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{self.template}"')
        except BaseException:
            conn.execute(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
            raise
        # No one may connect (and change it, or block copies); the comment dates it.
        conn.execute(f'ALTER DATABASE "{self.template}" WITH ALLOW_CONNECTIONS false')
        conn.execute(f"COMMENT ON DATABASE \"{self.template}\" IS 'built {int(time.time())}'")

    def _retire_others(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        rows = conn.execute(
            "SELECT d.datname, shobj_description(d.oid, 'pg_database') FROM pg_database d"
            " WHERE d.datname LIKE %s AND d.datname <> %s",
            (TEMPLATE_PREFIX + "%", self.template),
        ).fetchall()
        for name, comment in rows:
            built = str(comment or "built 0").removeprefix("built ")
            if built.isdigit() and time.time() - int(built) > RETIRE_AFTER_S:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')


class SqliteTemplate:
    """Copies fresh database files from the migrated template file of the current schema."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(tempfile.gettempdir()) / "billing-test-templates"
        self.path = self.directory / f"billing-{schema_key()}.db"

    def copy_to(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            if not self.path.exists():
                self._build()
            try:
                shutil.copyfile(self.path, target)
                return
            except FileNotFoundError:  # retired since by another checkout: build it again
                if attempt == 2:
                    raise

    def _build(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        building = self.directory / f".building-{worker_id()}-{uuid.uuid4().hex[:12]}.db"
        try:
            upgrade(f"sqlite+aiosqlite:///{building}")
            # Everything in the main file (no -wal beside it), so one file copy is whole.
            with sqlite3.connect(building) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            building.chmod(0o444)  # read-only: a template never changes after it is built
            os.replace(building, self.path)  # atomic: readers see no file or a whole one
        finally:
            building.unlink(missing_ok=True)
        now = time.time()
        for old in self.directory.glob("billing-*.db"):
            if old != self.path and now - old.stat().st_mtime > RETIRE_AFTER_S:
                old.unlink(missing_ok=True)
