"""Rule sets by content hash, and each tenant's active one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime, json_column_type

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rule_sets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("files", json_column_type(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "content_hash", name="pk_rule_sets"),
    )
    op.create_table(
        "active_rule_sets",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("activated_at", UTCDateTime(), nullable=False),
        sa.Column("activated_by", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_active_rule_sets"),
    )


def downgrade() -> None:
    op.drop_table("active_rule_sets")
    op.drop_table("rule_sets")
