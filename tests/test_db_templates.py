"""The migrated templates the tests' databases are copied from (ADR 0056): a migration edit
makes a new one, a half-built one is never used, a copy is at head, no one writes a template."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

import psycopg
import pytest
from alembic.script import ScriptDirectory

from billing.store.migrate import MIGRATIONS, alembic_config
from conftest import PG_ADMIN_DSN, Database
from db_templates import STORE, PostgresTemplates, SqliteTemplate, schema_key

HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _store_copy(tmp_path: Path) -> Path:
    store = tmp_path / "store"
    shutil.copytree(
        MIGRATIONS, store / MIGRATIONS.name, ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("types.py", "engine.py", "migrate.py"):
        shutil.copy(STORE / name, store / name)
    return store


def test_the_key_is_the_real_store_s_and_changes_with_any_migration_or_type(tmp_path):
    store = _store_copy(tmp_path)
    before = schema_key(store)
    assert before == schema_key()
    first = sorted((store / "migrations" / "versions").glob("0001*.py"))[0]
    first.write_text(first.read_text() + "\n# an edit\n")
    edited = schema_key(store)
    assert edited != before
    (store / "types.py").write_text((store / "types.py").read_text() + "\n# an edit\n")
    assert schema_key(store) not in {before, edited}


def test_a_sqlite_copy_is_at_head_and_the_template_read_only(tmp_path):
    templates = SqliteTemplate(tmp_path / "templates")
    templates.copy_to(tmp_path / "a.db")
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
        conn.execute("CREATE TABLE written (x)")  # the copy is the test's own, writable
    conn.close()
    assert stat.S_IMODE(templates.path.stat().st_mode) == 0o444
    assert sorted(p.name for p in templates.directory.iterdir()) == [templates.path.name]


def test_a_half_built_or_other_schema_s_sqlite_file_is_never_used(tmp_path):
    directory = tmp_path / "templates"
    directory.mkdir()
    (directory / ".building-gw9-0123456789ab.db").write_bytes(b"half a database")
    (directory / "billing-0000000000000000.db").write_bytes(b"another schema")
    templates = SqliteTemplate(directory)
    templates.copy_to(tmp_path / "a.db")
    with sqlite3.connect(tmp_path / "a.db") as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
    conn.close()


def test_the_postgres_template_is_closed_and_a_dead_build_is_dropped(make_database):
    database: Database = make_database("postgresql")  # skips or fails (CI) without PostgreSQL
    templates = PostgresTemplates(PG_ADMIN_DSN)
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "billing_tmplb_deadbuild0000"')  # as if a build died
    templates.clone(f"{database.sync_url.rsplit('/', 1)[1]}_second")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname, datallowconn FROM pg_database WHERE datname = ANY(%s)",
            ([templates.template, "billing_tmplb_deadbuild0000"],),
        ).fetchall()
        conn.execute(f'DROP DATABASE "{database.sync_url.rsplit("/", 1)[1]}_second"')
    assert rows == [(templates.template, False)]
    with pytest.raises(psycopg.OperationalError, match="not currently accepting connections"):
        psycopg.connect(PG_ADMIN_DSN.rsplit("/", 1)[0] + "/" + templates.template)
    with psycopg.connect(database.sync_url.replace("+psycopg", "")) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]
