"""Usage events (append-only, corrections point at originals) and what usage was billed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 14:50:10.726910
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_billed",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("period_start", UTCDateTime(), nullable=False),
        sa.Column("price_code", sa.String(length=64), nullable=False),
        sa.Column("period_end", UTCDateTime(), nullable=False),
        sa.Column("quantity", sa.String(length=64), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("invoice_id", sa.String(length=40), nullable=False),
        sa.Column("billed_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "subscription_id",
            "period_start",
            "price_code",
            name=op.f("pk_usage_billed"),
        ),
    )
    op.create_table(
        "usage_events",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("subscription_id", sa.String(length=40), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("ts", UTCDateTime(), nullable=False),
        sa.Column("properties", json_column_type(), nullable=False),
        sa.Column("body_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("corrects", sa.String(length=128), nullable=True),
        sa.Column("correction", sa.String(length=8), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_usage_events")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_usage_events_tenant_id_corrects"),
            ["tenant_id", "corrects"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_usage_events_tenant_id_subscription_id_metric_ts"),
            ["tenant_id", "subscription_id", "metric", "ts"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_events_tenant_id_subscription_id_metric_ts"))
        batch_op.drop_index(batch_op.f("ix_usage_events_tenant_id_corrects"))

    op.drop_table("usage_events")
    op.drop_table("usage_billed")
