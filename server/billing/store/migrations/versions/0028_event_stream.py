"""WatchEvents' cursor (ADR 0059): outbox rows get a stream position (stream_xid,
stream_seq), filled by the database; a per-tenant retention floor; SQLite's counter.

PostgreSQL: stream_xid is the writing transaction's id (pg_current_xact_id(), a 64-bit xid8,
never wraps), stream_seq an identity. SQLite: stream_xid 0, stream_seq from a one-row counter
bumped by an AFTER INSERT trigger (writes are serialized, so numbers commit in order).
Existing rows keep their physical order.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "event_stream_floors",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("floor_xid", sa.BigInteger, nullable=False),
        sa.Column("floor_seq", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "event_stream_counter",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.BigInteger, nullable=False),
    )
    if _is_sqlite():
        op.execute("ALTER TABLE outbox_events ADD COLUMN stream_xid BIGINT NOT NULL DEFAULT 0")
        op.execute("ALTER TABLE outbox_events ADD COLUMN stream_seq BIGINT NOT NULL DEFAULT 0")
        op.execute("UPDATE outbox_events SET stream_seq = rowid")
        op.execute(
            "INSERT INTO event_stream_counter (id, last)"
            " SELECT 1, coalesce(max(stream_seq), 0) FROM outbox_events"
        )
        op.execute(
            "CREATE TRIGGER outbox_events_stream_seq AFTER INSERT ON outbox_events BEGIN"
            " UPDATE event_stream_counter SET last = last + 1 WHERE id = 1;"
            " UPDATE outbox_events SET stream_seq = (SELECT last FROM event_stream_counter"
            " WHERE id = 1) WHERE rowid = NEW.rowid;"
            " END"
        )
    else:
        op.execute(
            "ALTER TABLE outbox_events"
            " ADD COLUMN stream_xid BIGINT NOT NULL"
            " DEFAULT (pg_current_xact_id()::text::bigint),"
            " ADD COLUMN stream_seq BIGINT GENERATED ALWAYS AS IDENTITY"
        )
    op.create_index(
        "ix_outbox_events_stream", "outbox_events", ["tenant_id", "stream_xid", "stream_seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_events_stream", table_name="outbox_events")
    if _is_sqlite():
        op.execute("DROP TRIGGER outbox_events_stream_seq")
    op.drop_column("outbox_events", "stream_seq")
    op.drop_column("outbox_events", "stream_xid")
    op.drop_table("event_stream_counter")
    op.drop_table("event_stream_floors")
