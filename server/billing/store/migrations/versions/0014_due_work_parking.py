"""Due work that keeps failing is parked: `due_work.last_error` and `parked_at`, and a
partial index on parked items (ADR 0021).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 15:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from billing.store.types import UTCDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("due_work") as batch_op:
        batch_op.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("parked_at", UTCDateTime(), nullable=True))
    op.create_index(
        "ix_due_work_parked",
        "due_work",
        ["tenant_id", "subscription_id"],
        postgresql_where=sa.text("parked_at IS NOT NULL"),
        sqlite_where=sa.text("parked_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_due_work_parked", table_name="due_work")
    with op.batch_alter_table("due_work") as batch_op:
        batch_op.drop_column("parked_at")
        batch_op.drop_column("last_error")
