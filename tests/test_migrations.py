"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

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


def test_events_stored_before_the_rollups_mark_their_days_unknown(backend, make_database):
    # 0009 cannot know each metric's definition: it counts the events of each day under none
    # (spec ""), so those periods are read from the events.
    from alembic import command

    from billing.store.migrate import alembic_config, upgrade
    from billing.store.schema import usage_events, usage_rollups

    database = make_database(backend)
    command.downgrade(alembic_config(database.async_url), "0008")
    day = datetime(2026, 4, 2, tzinfo=UTC)
    rows = [
        {
            "tenant_id": "t1",
            "id": f"e{i}",
            "subscription_id": "sub_1",
            "metric": "api_calls",
            "ts": day + timedelta(hours=5 * i, microseconds=7),
            "properties": {},
            "body_hash": b"\x00" * 32,
            "received_at": day,
            "corrects": "e0" if i == 4 else None,
            "correction": "void" if i == 4 else None,
        }
        for i in range(5)
    ]
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(usage_events), rows)
        upgrade(database.async_url)
        with engine.connect() as conn:
            found = conn.execute(
                sa.select(usage_rollups.c.bucket, usage_rollups.c.spec, usage_rollups.c.count)
                .where(usage_rollups.c.bucket >= day)  # compares as the store does
                .order_by(usage_rollups.c.bucket)
            ).all()
    finally:
        engine.dispose()
    # Events at 0, 5, 10, 15 h on April 2 and 20 h (the void: not an event of its own).
    assert [tuple(r) for r in found] == [(day, "", 4)]
