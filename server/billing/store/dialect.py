"""The few statements whose spelling differs by dialect (both support ON CONFLICT)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Insert, Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def dialect_insert(dialect: str, table: Table) -> Any:
    """An INSERT that knows `on_conflict_do_*` for PostgreSQL or SQLite."""
    return postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def insert_or_ignore(dialect: str, table: Table, keys: list[str]) -> Insert:
    statement: Insert = dialect_insert(dialect, table).on_conflict_do_nothing(index_elements=keys)
    return statement


def upsert(dialect: str, table: Table, keys: list[str], updates: list[str]) -> Insert:
    insert_ = dialect_insert(dialect, table)
    statement: Insert = insert_.on_conflict_do_update(
        index_elements=keys, set_={name: insert_.excluded[name] for name in updates}
    )
    return statement
