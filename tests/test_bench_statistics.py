"""The bench's stand-in for autovacuum (bench/servers.py): on a server without it, the bench's
database is ANALYZEd while scenarios run, so their plans are made on statistics a production
server's autovacuum would keep (ADR 0078)."""

from __future__ import annotations

import time

import psycopg
import pytest
from sqlalchemy.engine.url import make_url

from billing.bench import servers
from billing.bench.options import parse_args
from conftest import PG_ADMIN_DSN


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _analyzed(dsn: str, table: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = %s", (table,)
        ).fetchone()
    return row is not None and row[0] is not None


def test_tables_are_analyzed_once_autovacuum_would_and_not_after_the_block(make_database) -> None:  # type: ignore[no-untyped-def]
    """By autovacuum's default rule: more than 50 + 10% rows changed since the last ANALYZE.
    `clocks` gets 60 new rows; `due_work`, unchanged, is left alone."""
    database = make_database("postgresql")
    dsn = _dsn(database.sync_url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO clocks (tenant_id, id, display_name, now, created_at)"
            " SELECT 't', 'clk_' || g, 'c', now(), now() FROM generate_series(1, 60) g"
        )
    assert not _analyzed(dsn, "clocks")
    with servers.analyzed_meanwhile(database.sync_url, 0.05):
        deadline = time.monotonic() + 10
        while not _analyzed(dsn, "clocks") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _analyzed(dsn, "clocks")
    assert not _analyzed(dsn, "due_work")
    with psycopg.connect(dsn, autocommit=True) as conn:
        sessions = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    assert sessions == (0,)  # its connection closed with the block


def test_the_server_is_asked_whether_autovacuum_runs() -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        row = conn.execute("SHOW autovacuum").fetchone()
    assert row is not None
    url = make_url(PG_ADMIN_DSN.replace("postgresql://", "postgresql+psycopg://", 1))
    assert servers.autovacuum_off(url.render_as_string(hide_password=False)) is (row[0] == "off")


def test_analyze_every_is_two_seconds_unless_told_and_zero_turns_it_off() -> None:
    assert parse_args([]).analyze_every == 2.0
    assert parse_args(["--analyze-every", "0"]).analyze_every == 0.0
    with pytest.raises(SystemExit):
        parse_args(["--analyze-every", "-1"])
