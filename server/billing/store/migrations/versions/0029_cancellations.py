"""Cancellations with their reason codes and feedback (issue 18).

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-06 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0029"
down_revision = "0025"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "cancellations",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("id", sa.String(length=ID), nullable=False),
        sa.Column("subscription_id", sa.String(length=ID), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("reason_code", sa.String(length=64), nullable=False),
        sa.Column("feedback", sa.Text(), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("effective_at", UTCDateTime(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("mrr_minor", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cancellations")),
    )
    op.create_index(
        op.f("ix_cancellations_tenant_id_requested_at"),
        "cancellations",
        ["tenant_id", "requested_at"],
    )
    op.create_index(
        op.f("ix_cancellations_tenant_id_subscription_id"),
        "cancellations",
        ["tenant_id", "subscription_id"],
    )


def downgrade() -> None:
    op.drop_table("cancellations")
