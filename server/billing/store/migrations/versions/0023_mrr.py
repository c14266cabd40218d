"""MRR maintained as subscriptions change (ADR 0055): per subscription, per customer, the
movements, and sharded tenant totals.

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "mrr_subscriptions",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("subscription_id", sa.String(length=ID), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mrr_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "subscription_id", name=op.f("pk_mrr_subscriptions")),
    )
    op.create_table(
        "mrr_customers",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mrr_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "customer_id", "currency", name=op.f("pk_mrr_customers")
        ),
    )
    op.create_table(
        "mrr_movements",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("id", sa.String(length=ID), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("subscription_id", sa.String(length=ID), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delta_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mrr_movements")),
    )
    op.create_index(
        op.f("ix_mrr_movements_tenant_id_occurred_at"),
        "mrr_movements",
        ["tenant_id", "occurred_at"],
    )
    op.create_table(
        "mrr_totals",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("mrr_minor", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "currency", "shard", name=op.f("pk_mrr_totals")),
    )


def downgrade() -> None:
    op.drop_table("mrr_totals")
    op.drop_index(op.f("ix_mrr_movements_tenant_id_occurred_at"), table_name="mrr_movements")
    op.drop_table("mrr_movements")
    op.drop_table("mrr_customers")
    op.drop_table("mrr_subscriptions")
