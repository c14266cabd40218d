"""Revenue recognition schedules (ADR 0054): one row per performance obligation of a finalized
invoice, its allocated amount and how much of it recognition has posted.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 07:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "revenue_schedules",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("id", sa.String(length=ID), nullable=False),
        sa.Column("invoice_id", sa.String(length=ID), nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("recognized_minor", sa.BigInteger(), nullable=False),
        sa.Column("start_at", UTCDateTime(), nullable=False),
        sa.Column("end_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("allocation", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_revenue_schedules")),
    )
    op.create_index(
        op.f("ix_revenue_schedules_tenant_id_invoice_id"),
        "revenue_schedules",
        ["tenant_id", "invoice_id"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revenue_schedules_tenant_id_invoice_id"), table_name="revenue_schedules")
    op.drop_table("revenue_schedules")
