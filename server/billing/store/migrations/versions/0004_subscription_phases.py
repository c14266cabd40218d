"""Subscription phases: scheduled changes still to come.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 14:43:28.743565
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import json_column_type

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phases", json_column_type(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("phases")
