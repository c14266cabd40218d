"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billing.store.schema import metadata


def test_migrations_match_the_declared_schema(backend, make_database):
    database = make_database(backend)  # migrated to head by the fixture
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": False})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []
