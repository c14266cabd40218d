"""Sales contracts applied as subscriptions (issue 18).

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 20:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

TENANT = 64
ID = 40


def upgrade() -> None:
    op.create_table(
        "contracts",
        sa.Column("tenant_id", sa.String(length=TENANT), nullable=False),
        sa.Column("deal_id", sa.String(length=128), nullable=False),
        sa.Column("customer_id", sa.String(length=ID), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("terms", json_column_type(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "deal_id", name=op.f("pk_contracts")),
    )


def downgrade() -> None:
    op.drop_table("contracts")
