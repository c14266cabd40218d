"""MRR's net movement per UTC day (ADR 0055): MRR at an instant reads the days after it and one
day's movements instead of every movement since. Filled from the movements already kept (in
shard 0: shards only spread concurrent writers; reads sum them).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

TENANT = 64


def upgrade() -> None:
    days = op.create_table(
        "mrr_days",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("day_start", UTCDateTime(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("delta_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "day_start", "currency", "shard", name=op.f("pk_mrr_days")
        ),
    )
    movements = sa.table(
        "mrr_movements",
        sa.column("tenant_id", sa.String()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("currency", sa.String()),
        sa.column("delta_minor", sa.BigInteger()),
    )
    m = movements.c
    sums: dict[tuple[str, datetime, str], int] = {}
    for row in op.get_bind().execute(
        sa.select(m.tenant_id, m.occurred_at, m.currency, m.delta_minor)
    ):
        at = row.occurred_at.astimezone(UTC)
        key = (row.tenant_id, datetime(at.year, at.month, at.day, tzinfo=UTC), row.currency)
        sums[key] = sums.get(key, 0) + int(row.delta_minor)
    if sums:
        op.bulk_insert(
            days,
            [
                {"tenant_id": t, "day_start": d, "currency": c, "shard": 0, "delta_minor": v}
                for (t, d, c), v in sums.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("mrr_days")
