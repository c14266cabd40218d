"""The migrations build exactly the schema the code declares, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import postgresql

from billing.store.schema import metadata


def test_migrations_match_the_declared_schema(backend, make_database):
    database = make_database(backend)  # migrated to head by the fixture
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert differences == []


def _column_types(engine: sa.Engine) -> tuple[dict[str, str], dict[str, str]]:
    """Every column's type as the database spells it: declared (store/schema.py compiled for
    this dialect) and migrated (reflected from the database), keyed `table.column`."""
    dialect = engine.dialect
    declared = {
        f"{table.name}.{column.name}": column.type.compile(dialect=dialect)
        for table in metadata.sorted_tables
        for column in table.columns
    }
    inspector = sa.inspect(engine)
    migrated = {
        f"{name}.{column['name']}": column["type"].compile(dialect=dialect)
        for name in inspector.get_table_names()
        if name != "alembic_version"
        for column in inspector.get_columns(name)
    }
    return declared, migrated


def test_migrated_column_types_are_the_declared_ones(backend, make_database):
    # Names alone are not enough: a BIGINT amount migrated as INTEGER, or a TIMESTAMP WITH
    # TIME ZONE as one without, has every name right and still loses money or instants.
    database = make_database(backend)
    engine = sa.create_engine(database.sync_url)
    try:
        declared, migrated = _column_types(engine)
    finally:
        engine.dispose()
    assert {k: migrated.get(k) for k in declared if migrated.get(k) != declared[k]} == {}
    assert set(migrated) == set(declared)
    # The ones money and time depend on, spelled out (a regression in the comparison itself
    # would otherwise pass unnoticed).
    wide = "BIGINT"
    assert migrated["invoices.total_minor"] == wide
    if backend == "postgresql":
        assert migrated["invoices.created_at"] == "TIMESTAMP WITH TIME ZONE"


def test_a_type_change_is_reported(backend, make_database):
    """The comparison sees types: a column declared narrower than it was migrated is found."""
    database = make_database(backend)
    engine = sa.create_engine(database.sync_url)
    narrowed = metadata.tables["invoices"].c.total_minor
    original = narrowed.type
    try:
        narrowed.type = sa.Integer()
        declared, migrated = _column_types(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        narrowed.type = original
        engine.dispose()
    assert declared["invoices.total_minor"] == "INTEGER" != migrated["invoices.total_minor"]
    assert [d[0][0] for d in differences] == ["modify_type"]


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


def test_0013_keeps_the_newest_key_of_a_request_id_and_old_records_have_no_digest(
    backend, make_database
):
    # Before 0013 the key was (tenant, method, request_id): one id could hold a key per RPC.
    # The new key (tenant, request_id) keeps the newest; audit rows written before keep a
    # NULL digest, and the table is append-only afterwards.
    from alembic import command

    from billing.store.migrate import alembic_config, upgrade

    database = make_database(backend)
    command.downgrade(alembic_config(database.async_url), "0012")
    at = datetime(2026, 12, 1, tzinfo=UTC)
    keys = [
        ("t1", "CreateCustomer", "same", at, b"old"),
        ("t1", "UpdateCustomer", "same", at + timedelta(seconds=1), b"new"),
        ("t1", "CreateCustomer", "alone", at, b"alone"),
        ("t2", "CreateCoupon", "same", at, b"other tenant"),
    ]
    engine = sa.create_engine(database.sync_url)
    try:
        with engine.begin() as conn:
            for tenant, method, request_id, created, result in keys:
                conn.execute(
                    sa.text(
                        "INSERT INTO idempotency_keys (tenant_id, method, request_id, body_hash,"
                        " result, created_at, expires_at) VALUES (:t, :m, :r, :h, :res, :c, :e)"
                    ),
                    {
                        "t": tenant,
                        "m": method,
                        "r": request_id,
                        "h": b"\x00" * 32,
                        "res": result,
                        "c": created,
                        "e": created + timedelta(days=1),
                    },
                )
            conn.execute(
                sa.text(
                    "INSERT INTO audit_log (tenant_id, id, actor, method, request_id,"
                    " resource_name, action, changes, occurred_at)"
                    " VALUES ('t1', 'aud_1', 'u', 'CreateCustomer', 'same', 'customers/c',"
                    " 'create', '{}', :at)"
                ),
                {"at": at},
            )
        upgrade(database.async_url)
        with engine.connect() as conn:
            kept = conn.execute(
                sa.text(
                    "SELECT tenant_id, request_id, method FROM idempotency_keys"
                    " ORDER BY tenant_id, request_id"
                )
            ).all()
            digest = conn.execute(sa.text("SELECT request_digest FROM audit_log")).scalar_one()
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                conn.execute(sa.text("DELETE FROM audit_log"))
    finally:
        engine.dispose()
    assert [tuple(r) for r in kept] == [
        ("t1", "alone", "CreateCustomer"),
        ("t1", "same", "UpdateCustomer"),
        ("t2", "same", "CreateCoupon"),
    ]
    assert digest is None


def test_every_key_and_id_column_compares_bytes_on_postgresql():
    """ADR 0074: a varchar a key orders, or an id joined against one, is `COLLATE "C"` on
    PostgreSQL (`key_string`), so a new table cannot bring back `strcoll` on its keys."""
    dialect = postgresql.dialect()
    loose = []
    for table in metadata.sorted_tables:
        keyed = {column.name for column in table.primary_key.columns}
        for constraint in [*table.indexes, *table.constraints]:
            if isinstance(constraint, sa.Index | sa.UniqueConstraint):
                keyed |= {column.name for column in constraint.columns}
        for column in table.columns:
            if type(column.type) is not sa.String:  # varchar; Text and JSON are not keys
                continue
            named_as_id = column.name == "id" or column.name.endswith("_id")
            if (column.name in keyed or named_as_id) and not column.type.compile(
                dialect=dialect
            ).endswith('COLLATE "C"'):
                loose.append(f"{table.name}.{column.name}")
    assert loose == []
    assert metadata.tables["usage_events"].c.id.type.compile(dialect=dialect) == (
        'VARCHAR(128) COLLATE "C"'
    )
