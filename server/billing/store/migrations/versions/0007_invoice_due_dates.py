"""Invoice due dates (net terms) and a coupon applied to a draft.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 15:12:47.583765
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("coupon_code", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_column("coupon_code")
        batch_op.drop_column("due_at")
