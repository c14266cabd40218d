"""The outbox relay to RabbitMQ (ADR 0057): each event's relay shard and commit sequence, why
the broker refused it, and the shard rows relays claim.

Revision ID: 0026
Revises: 0031
Create Date: 2026-12-06 19:55:00.000000
"""

from __future__ import annotations

import zlib

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0026"
down_revision = "0031"
branch_labels = None
depends_on = None

RELAY_SHARDS = 16  # = billing.store.outbox_relay.RELAY_SHARDS; fixed: a change reorders


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("outbox_events") as batch:
        batch.add_column(sa.Column("shard", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("dead_letter", sa.String(length=32), nullable=True))
    if postgres:
        # Taken at insert, after the writer's compare-and-set holds the aggregate's row, so
        # within an aggregate it is commit order; existing rows are numbered in id order.
        op.execute("CREATE SEQUENCE outbox_events_seq OWNED BY outbox_events.seq")
        op.execute(
            "UPDATE outbox_events SET seq = n.seq FROM (SELECT tenant_id, id, nextval("
            "'outbox_events_seq') AS seq FROM (SELECT tenant_id, id FROM outbox_events ORDER "
            "BY id) o) n WHERE outbox_events.tenant_id = n.tenant_id AND outbox_events.id = n.id"
        )
        op.execute(
            "ALTER TABLE outbox_events ALTER COLUMN seq SET DEFAULT nextval('outbox_events_seq')"
        )
    _shard_unpublished()
    op.create_index(
        op.f("ix_outbox_events_shard_published_at_seq"),
        "outbox_events",
        ["shard", "published_at", "seq"],
    )
    shards = op.create_table(
        "outbox_relay_shards",
        sa.Column("shard", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("relayed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("shard", name=op.f("pk_outbox_relay_shards")),
    )
    op.bulk_insert(shards, [{"shard": n} for n in range(RELAY_SHARDS)])


def _shard_unpublished() -> None:
    """Events written before the relay existed get their aggregate's shard, so they and the
    aggregate's later ones have one publisher."""
    conn = op.get_bind()
    rows = conn.execute(
        sa.text("SELECT tenant_id, id, resource_name FROM outbox_events WHERE published_at IS NULL")
    ).all()
    for tenant_id, event_id, resource in rows:
        conn.execute(
            sa.text("UPDATE outbox_events SET shard = :s WHERE tenant_id = :t AND id = :i"),
            {"s": zlib.crc32(f"{tenant_id}/{resource}".encode()) % RELAY_SHARDS,
             "t": tenant_id, "i": event_id},
        )  # fmt: skip


def downgrade() -> None:
    op.drop_table("outbox_relay_shards")
    op.drop_index(op.f("ix_outbox_events_shard_published_at_seq"), table_name="outbox_events")
    with op.batch_alter_table("outbox_events") as batch:
        batch.drop_column("dead_letter")
        batch.drop_column("seq")
        batch.drop_column("shard")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP SEQUENCE IF EXISTS outbox_events_seq")
