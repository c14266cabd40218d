"""Billing days: the anchor day and first-stub proration kept on the subscription, the base
subscription an add-on aligns to, and the customer's bill cycle day.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        # 0: no anchor day (periods start at the start); kept so a trial end can use it.
        batch_op.add_column(
            sa.Column("anchor_day", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("first_stub", sa.String(length=8), nullable=False, server_default="prorate")
        )
        batch_op.add_column(sa.Column("base_subscription_id", sa.String(length=40), nullable=True))
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("bill_cycle_day", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("bill_cycle_day")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("base_subscription_id")
        batch_op.drop_column("first_stub")
        batch_op.drop_column("anchor_day")
